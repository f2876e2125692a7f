"""The machine's noise, counted in a process of its own: `python -m tests.live.noise_monitor
COUNT_FILE`.

It starts a JACK server of its own (`jackd -d dummy`, a unique name), a plain pyo client on
it (`plain_client`: one sine, nothing else) and a JACK client with no process callback that
only counts the server's xruns into COUNT_FILE (one int64, then 1 once ready). A separate
process because libjack serves one JACK server per process: a test process already
connected to the tests' server would silently open this one's clients there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid

import jack
import numpy as np

from tests.live.harness import _wait_for, jack_server


def main() -> None:
    count = np.memmap(sys.argv[1], dtype=np.int64, mode="r+", shape=(2,))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with jack_server() as server:
        name = f"plain-{uuid.uuid4().hex[:6]}"
        env = dict(os.environ, PYO_GUI_WX="0")
        plain = subprocess.Popen([sys.executable, "-m", "tests.live.plain_client", server, name],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            monitor = jack.Client(f"monitor-{name}", servername=server, no_start_server=True)

            @monitor.set_xrun_callback  # type: ignore[misc]
            def xrun(delay: float) -> None:
                count[0] += 1

            monitor.activate()
            _wait_for(lambda: len(monitor.get_ports(f"{name}:", is_output=True)) >= 2, 15.0,
                      "the plain pyo client")
            done.wait(1.0)  # the plain client's start-up is not noise
            count[0] = 0
            count[1] = 1
            done.wait()
            monitor.deactivate()
            monitor.close()
        finally:
            plain.terminate()
            plain.wait(5)


if __name__ == "__main__":
    main()
