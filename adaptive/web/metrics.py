"""`/metrics` in Prometheus' text format: what the server did, counted where it happens.

Theory of operation
-------------------
A `Metrics` owns its own registry (never the process-wide default, so two servers in one
test process do not share counters). Three kinds of source feed it:

- the controller tells it of every command it acts on (`Controller.observers`, under the
  controller's lock: two counter increments and, for an immediate command, one histogram
  observation). Control-to-audio latency is the wall time of the first sample of the block
  that applies the command (the audio clock's mapping) less the wall time the controller
  took it: what the server adds, without the device's output latency;
- the output bus tells it of sections, rests and stingers as they are placed;
- at each scrape a collector reads what others already count: the inputs' rejections
  (`InputStats`), the streams' underruns, the chase's lock and delta, the JACK xruns
  (`XrunCounter`, when the audio is JACK) and the pages connected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adaptive.commands import (
    Command,
    LayerAuto,
    LayerGain,
    LayerMute,
    LayerSolo,
    SetParam,
    SetParams,
    SetState,
)

if TYPE_CHECKING:
    from adaptive.live.controller import Event
    from adaptive.live.endpoint import Core

log = logging.getLogger("adaptive.web")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

IMMEDIATE = (SetParam, SetParams, SetState, LayerMute, LayerSolo, LayerGain, LayerAuto)
"""Commands applied on the next block: their latency is the server's own."""

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.010, 0.015,
                   0.020, 0.030, 0.050, 0.100)

NOT_REJECTIONS = ("_coalesced", "mqtt_disconnected", "midi_ignored")
"""InputStats kinds that count something other than a refused or corrected input."""


def source_label(source: str) -> str:
    """'OSC ' / 'MQTT ' / 'web ' (the controller's log prefixes) → a label value."""
    label = source.strip().split(" ")[0].lower()
    return label or "internal"


class Metrics:
    def __init__(self, core: Core, wall: Callable[[], float] = time.time,
                 clients: Callable[[], int] = lambda: 0,
                 xruns: Callable[[], int | None] = lambda: None) -> None:
        self.core = core
        self._wall = wall
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter("adaptive_commands", "commands acted on, by input and kind",
                                ["source", "kind"], registry=self.registry)
        self.latency = Histogram(
            "adaptive_control_latency_seconds", "an immediate command's receipt by the "
            "controller to the wall time of the block that applies it (audio clock)",
            ["source"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.sections = Counter("adaptive_section_changes", "sections started",
                                registry=self.registry)
        self.rests = Counter("adaptive_rests", "rests started", registry=self.registry)
        self.stingers = Counter("adaptive_stingers", "stingers started", ["name"],
                                registry=self.registry)
        self.registry.register(_Scraped(core, clients, xruns))

    def on_command(self, source: str, command: Command, at: int | None, now: int) -> None:
        """`Controller.observers`: count, and time what applies on the next block."""
        label = source_label(source)
        self.commands.labels(label, command.cmd).inc()
        if at is None and isinstance(command, IMMEDIATE):
            self.latency.labels(label).observe(max(self.core.wall_at(now) - self._wall(), 0.0))

    def on_event(self, event: Event) -> None:
        """The output bus's subscription."""
        if event.kind == "section":
            self.sections.inc()
        elif event.kind == "rest":
            self.rests.inc()
        elif event.kind == "stinger":
            self.stingers.labels(str(event.args[0]) if event.args else "").inc()

    def attach(self) -> Callable[[], None]:
        """Start counting from the controller and its bus; returns how to stop."""
        self.core.observers.append(self.on_command)
        subscription = self.core.bus.subscribe("metrics", self.on_event)

        def detach() -> None:
            if self.on_command in self.core.observers:
                self.core.observers.remove(self.on_command)
            self.core.bus.unsubscribe(subscription)
        return detach

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _Scraped(Collector):
    """What is read at scrape time from where it is counted already."""

    def __init__(self, core: Core, clients: Callable[[], int],
                 xruns: Callable[[], int | None]) -> None:
        self._core = core
        self._clients = clients
        self._xruns = xruns

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked: the families depend on what the server has

    def collect(self) -> Iterator[Metric]:
        rejected = CounterMetricFamily("adaptive_rejections", "inputs refused or corrected "
                                       "(clamped), by kind (InputStats)", labels=["kind"])
        for kind, count in sorted(self._core.stats.snapshot().items()):
            if not kind.endswith(NOT_REJECTIONS):
                rejected.add_metric([kind], count)
        yield rejected
        status: dict[str, Any] = self._core.status()
        underruns = CounterMetricFamily("adaptive_stream_underruns", "streamed layers faded "
                                        "out because the disk was late")
        underruns.add_metric([], float(status.get("streams", {}).get("underruns", 0)))
        yield underruns
        film = status.get("film")
        locked = GaugeMetricFamily("adaptive_chase_locked", "1 while the chase is locked to "
                                   "the film's player (0 otherwise; absent without a sheet)")
        delta = GaugeMetricFamily("adaptive_chase_delta_seconds", "the player's last report "
                                  "against the lock")
        if isinstance(film, dict):
            locked.add_metric([], 1.0 if film.get("state") == "locked" else 0.0)
            if isinstance(film.get("delta_ms"), int | float):
                delta.add_metric([], float(film["delta_ms"]) / 1000.0)
        yield locked
        yield delta
        clients = GaugeMetricFamily("adaptive_websocket_clients", "control pages connected")
        clients.add_metric([], float(self._clients()))
        yield clients
        xruns = self._xruns()
        if xruns is not None:
            family = CounterMetricFamily("adaptive_xruns", "JACK xruns seen by the server's "
                                         "xrun callback")
            family.add_metric([], float(xruns))
            yield family
