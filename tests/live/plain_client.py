"""A plain pyo client, the machine's noise reference: `python -m tests.live.plain_client
SERVER NAME`.

A pyo server on JACK playing one sine into two ports, and nothing else: no score, no
controller, no Python callback. Its JACK server's xruns, counted beside a live test's own,
tell what the machine did to any client in the same seconds (see harness.NoiseReference).
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def main() -> None:
    server_name, name = sys.argv[1], sys.argv[2]
    os.environ["JACK_DEFAULT_SERVER"] = server_name
    os.environ.setdefault("PYO_GUI_WX", "0")
    from adaptive.engine.engine import import_pyo  # the engine's build of pyo (64-bit)

    pyo = import_pyo()  # after the environment: pyo reads it when the server boots

    server = pyo.Server(sr=48000, nchnls=2, buffersize=256, duplex=0, audio="jack",
                        jackname=name)
    server.setJackAuto(False, False)
    server.deactivateMidi()
    server.boot()
    sine = pyo.Sine(freq=441.0, mul=0.1)
    out = pyo.Mix([sine, sine], voices=2).out()
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("plain client ready", flush=True)
    done.wait()
    del out
    server.stop()


if __name__ == "__main__":
    main()
