"""The rest gate on the real graph: a later resume never delays a sooner one.

Found with a real mpv (`tests/live/test_mpv_chase_live`): after a seek, the chase halts
(a stop rest), relocates at once (a voice and a resume 20 ms later) and, in the same
breath, re-chases on the next bar (a second voice and a second resume there). The gate
had one re-entry ramp, so the second resume moved it to the bar: silence until then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adaptive.actions import Action, EndRest, StartRest, StartVoice, StopVoice
from adaptive.engine.engine import Engine, import_pyo
from adaptive.render import _Capture, manual_server
from adaptive.score.load import load_score
from tests.audio import write_sine

SR, BLOCK = 48000, 256


def _play(score: Path, plan: dict[int, list[Action]], frames: int) -> np.ndarray:
    """The actions of each plan entry applied before the block holding that sample."""
    pyo = import_pyo()
    loaded = load_score(score)
    chunks = []
    with manual_server(pyo, SR, 1, BLOCK) as server:
        engine = Engine(pyo, loaded, 1)
        capture = _Capture(pyo, engine.output, SR, BLOCK)
        server.start()
        engine.start()
        capture.arm()
        for start in range(0, frames, BLOCK):
            for when in [w for w in plan if w < start + BLOCK]:
                for action in plan.pop(when):
                    engine.apply(action)
            engine.housekeeping(start)
            server.process()
            chunk = capture.after_block()
            if chunk is not None:
                chunks.append(chunk)
        chunks.append(capture.take())
        del engine, capture
    return np.concatenate(chunks)[:frames, 0]


def test_a_resume_on_the_bar_does_not_delay_the_resume_now(tmp_path: Path) -> None:
    write_sine(tmp_path / "tone.wav", 440.0, 12, amplitude=0.2)
    (tmp_path / "score.toml").write_text('[sections.a]\ntempo = 120\nbars = 4\n'
                                         '[sections.a.layers.tone]\nstem = "tone.wav"\n')
    halt, now, bar = 2 * SR, 2 * SR + 2048, 5 * SR
    plan: dict[int, list[Action]] = {
        0: [StartVoice(0, "a", 0, 0.0, 0, "linear")],
        halt - 540: [StopVoice(halt, "a", 0, 960, "equal_power"),
                     StartRest(halt, 960, stop=True)],
        now - 540: [StartVoice(now, "a", 0, float(now - SR), 960, "equal_power"),
                    EndRest(now, 960),
                    # the re-chase, written at the same time for the next bar
                    StopVoice(bar, "a", 0, 960, "equal_power"),
                    StartVoice(bar, "a", 1, float(bar - SR), 960, "equal_power"),
                    EndRest(bar, 960)]}
    audio = _play(tmp_path / "score.toml", plan, 7 * SR)

    def level(at: float, seconds: float = 0.1) -> float:
        window = audio[round(at * SR):round((at + seconds) * SR)]
        return float(np.sqrt(np.mean(window ** 2)))

    assert level(1.5) > 0.1  # before the halt
    assert level(2.021, 0.02) < 1e-3  # halted (until the relocation at 2.043 s)
    assert level(2.2) > 0.1 and level(4.0) > 0.1  # resumed 20 ms after the relocation
    assert level(5.5) > 0.1  # and after the re-chase
