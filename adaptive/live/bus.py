"""The output bus: events (beats, sections, rests, stingers, log lines) leave from one place.

Theory of operation
-------------------
The controller decides under its lock what the music does; it must never wait for anyone
who listens. So it only *publishes*: a non-blocking put into one bounded queue (full: the
event is dropped and counted as `bus_dropped`). One delivery thread takes events from that
queue and offers each to every subscription's own bounded queue (full: dropped for that
subscriber only, counted as `<name>_dropped`). Each subscription has a thread of its own
that calls the subscriber. A subscriber that blocks for seconds therefore fills only its
own queue: the controller, the other subscribers and the audio never notice.

Threads run at the same low real-time priority as the inputs (see `threads`): a Python
thread holding the GIL must not be parked behind busy processes while the audio callback
waits for the GIL.

A bus or a subscriber that is not in a hurry (the show log's file) *lingers*: woken by an
item, it waits `linger` seconds and takes whatever has come meanwhile, so a flood wakes it
a few dozen times a second, not once per item. Each wake-up is a context switch and a GIL
hand-over (measured: a server flooded with 1,000 /param a second spent 38.8 % of a core
with the show log delivered item by item, 24.3 % without a show log).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from adaptive.live.threads import realtime_thread

log = logging.getLogger("adaptive.bus")

T = TypeVar("T")

BUS_CAPACITY = 4096
SUBSCRIBER_CAPACITY = 1024

YIELD_AFTER = 0.0002
"""Seconds a lingering subscriber delivers before it lets other threads have the GIL: an
input thread waits at most this long for it, and a batch is not a system call and a GIL
hand-over per item (as it was when it yielded after each one)."""

Counter = Callable[[str, str], None]
"""Counts a kind of trouble with a message: `InputStats.count`'s shape."""


class _Stop:
    """Tells a thread to finish (put behind whatever is already queued)."""


_STOP = _Stop()


class Subscription(Generic[T]):
    """One subscriber: a bounded queue and the thread that empties it into `deliver`."""

    def __init__(self, name: str, deliver: Callable[[T], None], capacity: int,
                 count: Counter, linger: float = 0.0,
                 after: Callable[[], None] | None = None) -> None:
        self.name = name
        self._linger = linger
        self._after = after  # called once the items taken together are delivered
        self.dropped = 0
        self.delivered = 0
        self._deliver = deliver
        self._count = count
        self._queue: queue.Queue[T | _Stop] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._run, name=f"adaptive-out-{name}",
                                        daemon=True)
        self._thread.start()

    def offer(self, item: T) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._count(f"{self.name}_dropped", f"subscriber {self.name} is not keeping up; "
                        "its events are dropped")

    def _run(self) -> None:
        realtime_thread(f"out-{self.name}"[:15])
        while True:
            items = _take(self._queue, self._linger)
            held = time.perf_counter()
            for item in items:
                if isinstance(item, _Stop):
                    self._finish()
                    return
                try:
                    self._deliver(item)
                    self.delivered += 1
                except Exception as error:  # a subscriber's fault must never stop the others
                    self._count(f"{self.name}_failed", f"subscriber {self.name}: {error!r}")
                if self._linger and time.perf_counter() - held > YIELD_AFTER:
                    # a batch must not hold the GIL for its length: an input thread waiting
                    # for it would wait a whole switch interval (seen: OSC p99 with a 1,000
                    # msg/s flood from 5.46 to 6.10 ms with batches not yielding)
                    time.sleep(0)
                    held = time.perf_counter()
            self._finish()

    def _finish(self) -> None:
        if self._after is not None:
            try:
                self._after()
            except Exception as error:
                self._count(f"{self.name}_failed", f"subscriber {self.name}: {error!r}")

    def close(self, timeout: float = 1.0) -> None:
        # stuck in its subscriber: it is a daemon thread, let it be
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)


def _take(source: queue.Queue[T | _Stop], linger: float) -> list[T | _Stop]:
    """The next item, waiting for it; lingering, also what came within `linger` after."""
    items = [source.get()]
    if linger > 0 and not isinstance(items[0], _Stop):
        time.sleep(linger)
        with contextlib.suppress(queue.Empty):
            while True:
                items.append(source.get_nowait())
    return items


class OutputBus(Generic[T]):
    """Publish from anywhere without blocking; subscribers get their own queue and thread."""

    def __init__(self, count: Counter | None = None, capacity: int = BUS_CAPACITY,
                 linger: float = 0.0) -> None:
        self._linger = linger
        self._count: Counter = count or (lambda kind, message: log.warning("%s: %s", kind,
                                                                           message))
        self._queue: queue.Queue[T | _Stop] = queue.Queue(capacity)
        self._subscriptions: list[Subscription[T]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def set_counter(self, count: Counter) -> None:
        self._count = count

    def publish(self, item: T) -> None:
        """Never blocks: a full bus drops the item (and counts it)."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._count("bus_dropped", "output bus full: events dropped")

    def subscribe(self, name: str, deliver: Callable[[T], None],
                  capacity: int = SUBSCRIBER_CAPACITY, linger: float = 0.0,
                  after: Callable[[], None] | None = None) -> Subscription[T]:
        """`after`: called each time the items taken together are delivered (a lingering
        file subscriber flushes there)."""
        subscription = Subscription(name, deliver, capacity, self._count, linger, after)
        with self._lock:
            self._subscriptions = [*self._subscriptions, subscription]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="adaptive-bus",
                                                daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if s is not subscription]
        subscription.close()

    def _run(self) -> None:
        realtime_thread("adaptive-bus")
        while True:
            for item in _take(self._queue, self._linger):
                if isinstance(item, _Stop):
                    return
                for subscription in self._subscriptions:  # a copy-on-write list
                    subscription.offer(item)

    def drops(self) -> dict[str, int]:
        """Items dropped: by the bus and by each subscriber (for the status)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        return {"bus": self.dropped, **{s.name: s.dropped for s in subscriptions}}

    def close(self, timeout: float = 1.0) -> None:
        """Deliver what is queued (for up to `timeout` per thread), then stop every thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            thread.join(timeout)  # it offers what was queued to the subscribers first
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close(timeout)
