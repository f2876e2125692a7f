"""A JACK MIDI sender for live tests, in a process of its own: `python -m
tests.live.midi_sender SERVER NAME`.

Like the recorder, its process callback must not wait for the test process's GIL (a late
callback is an xrun of the whole graph). Each line on stdin is one period's events, as
hex tokens (`b00040 902464`); they are written at offset 0 of the next period, and the
JACK frame time of that period's start is printed back (`sent FRAME`), so the test knows
the sample the server received them on. `ready` is printed once the port exists.
"""

from __future__ import annotations

import queue
import sys
from collections import deque

import jack


def main() -> None:
    server, name = sys.argv[1], sys.argv[2]
    client = jack.Client(name, servername=server, no_start_server=True)
    port = client.midi_outports.register("out")
    pending: deque[list[bytes]] = deque()
    sent: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()

    @client.set_process_callback  # type: ignore[misc]
    def process(frames: int) -> None:
        port.clear_buffer()
        if not pending:
            return
        written = 0
        for data in pending.popleft():
            try:
                port.write_midi_event(0, data)
                written += 1
            except jack.JackError:  # the period's buffer is full
                break
        sent.put((client.last_frame_time, written))

    client.activate()
    print("ready", flush=True)
    for line in sys.stdin:
        pending.append([bytes.fromhex(token) for token in line.split()])
        frame, written = sent.get()
        print(f"sent {frame} {written}", flush=True)
    client.deactivate()
    client.close()


if __name__ == "__main__":
    main()
