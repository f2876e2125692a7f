"""A JACK recorder in a process of its own: `python -m tests.live.recorder_process ...`.

The test process has MQTT clients, pytest and other threads holding the GIL; a JACK
process callback living there is late now and then and shows up as an xrun of the graph.
Here the callback is the only Python that runs. It writes into a shared file: a header of
int64 [frames, first frame time, xruns, ready, xrun frames...], float32 stereo audio, then
the JACK frame time at which each recorded block started (int64 per block): a period lost
to an xrun shifts the recording, and this map keeps frame times exact across it.
"""

from __future__ import annotations

import signal
import sys
import threading

import jack
import numpy as np

HEADER = 1028  # int64 slots: 4, then the frames of up to 1,024 xruns
XRUN_SLOTS = HEADER - 4
BLOCK_UNIT = 64  # the smallest JACK period the block map allows


def block_slots(frames_total: int) -> int:
    return frames_total // BLOCK_UNIT + 1


def main() -> None:
    server, name, path, frames_total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    header = np.memmap(path, dtype=np.int64, mode="r+", shape=(HEADER,))
    audio = np.memmap(path, dtype=np.float32, mode="r+", offset=HEADER * 8,
                      shape=(frames_total, 2))
    block_frames = np.memmap(path, dtype=np.int64, mode="r+",
                             offset=HEADER * 8 + frames_total * 2 * 4,
                             shape=(block_slots(frames_total),))
    audio[:] = 0.0  # touch every page now: a page fault in the callback can make it late
    block_frames[:] = -1
    client = jack.Client(name, servername=server, no_start_server=True)
    ports = [client.inports.register(f"in_{i}") for i in (1, 2)]
    state = {"frames": 0}

    @client.set_process_callback  # type: ignore[misc]
    def process(frames: int) -> None:
        start = state["frames"]
        if start == 0 and header[1] < 0:
            header[1] = client.last_frame_time
        end = min(start + frames, frames_total)
        if start < end:
            block_frames[start // BLOCK_UNIT] = client.last_frame_time
        for channel, port in enumerate(ports):
            audio[start:end, channel] = port.get_array()[: end - start]
        state["frames"] = end
        header[0] = end

    @client.set_xrun_callback  # type: ignore[misc]
    def xrun(delay: float) -> None:
        count = int(header[2])
        if count < XRUN_SLOTS:
            header[4 + count] = state["frames"]
        header[2] = count + 1

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client.activate()
    header[3] = 1
    done.wait()
    client.deactivate()
    client.close()


if __name__ == "__main__":
    main()
