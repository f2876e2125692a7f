"""MQTT in and out, with reconnection: a lost broker never stops the music or OSC.

In: `<prefix>/param/<name>`, `<prefix>/params`, `<prefix>/cmd`. Out: `<prefix>/status`
(retained JSON, on change and every few seconds), `<prefix>/event/<kind>` (with the audio
time), `<prefix>/online` (retained true/false, false also as the last will).
The loop follows aiomqtt's documented pattern: `while True` around `async with Client`,
with a growing back-off, resubscribing and republishing after each reconnection.
`MqttEndpoint` runs it on an asyncio loop in a thread of its own (an `Endpoint`), so MQTT
shares nothing with OSC or the session's main thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import aiomqtt

from adaptive.commands import Command
from adaptive.live.controller import Event
from adaptive.live.endpoint import Core
from adaptive.live.inputs import InputRejected, Timed
from adaptive.live.protocol import command_from_mqtt, mqtt_subscriptions
from adaptive.live.threads import realtime_thread

log = logging.getLogger("adaptive.mqtt")

STATUS_PERIOD = 2.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0
EVENT_QUEUE = 1024
MAX_BATCH = 256  # messages taken in one go under a flood


@dataclass
class MqttConfig:
    host: str
    port: int
    prefix: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    qos: int = 0

    @classmethod
    def from_url(cls, url: str, prefix: str, qos: int = 0,
                 ca_file: str | None = None) -> MqttConfig:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise ValueError(f"{url!r} is not mqtt://[user:pass@]host[:port] or mqtts://...")
        tls = parsed.scheme == "mqtts"
        return cls(parsed.hostname, parsed.port or (8883 if tls else 1883), prefix.rstrip("/"),
                   unquote(parsed.username) if parsed.username else None,
                   unquote(parsed.password) if parsed.password else None, tls, ca_file, qos)


@asynccontextmanager
async def client_for(config: MqttConfig, will: bool = True) -> AsyncIterator[aiomqtt.Client]:
    tls_context = None
    if config.tls:
        tls_context = ssl.create_default_context(cafile=config.ca_file)
    last_will = aiomqtt.Will(f"{config.prefix}/online", "false", qos=1, retain=True) \
        if will else None
    async with aiomqtt.Client(config.host, config.port, username=config.username,
                              password=config.password, tls_context=tls_context,
                              will=last_will, keepalive=10) as client:
        yield client


async def run_mqtt(controller: Core, config: MqttConfig, stop: asyncio.Event) -> None:
    """Stay connected until `stop`; then say offline and leave."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[Event] = asyncio.Queue(EVENT_QUEUE)

    def on_event(event: Event) -> None:  # the bus's thread → this event loop
        def put() -> None:
            if events.full():
                controller.stats.count("mqtt_events_dropped", "event queue full")
            else:
                events.put_nowait(event)
        loop.call_soon_threadsafe(put)

    subscription = controller.bus.subscribe("mqtt_events", on_event)
    try:
        await _connected(controller, config, events, stop)
    finally:
        controller.bus.unsubscribe(subscription)


async def _connected(controller: Core, config: MqttConfig, events: asyncio.Queue[Event],
                     stop: asyncio.Event) -> None:
    backoff = BACKOFF_FIRST
    while not stop.is_set():
        try:
            async with client_for(config) as client:
                log.info("MQTT connected to %s:%d, prefix %s", config.host, config.port,
                         config.prefix)
                backoff = BACKOFF_FIRST
                await _session(client, controller, config, events, stop)
                await client.publish(f"{config.prefix}/online", "false", qos=1, retain=True)
                return
        except aiomqtt.MqttError as error:
            controller.stats.count("mqtt_disconnected",
                                   f"broker {config.host}:{config.port}: {error}; "
                                   f"retrying in {backoff:.1f} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)


async def _session(client: aiomqtt.Client, controller: Core, config: MqttConfig,
                   events: asyncio.Queue[Event], stop: asyncio.Event) -> None:
    prefix = config.prefix
    for topic in mqtt_subscriptions(prefix):
        await client.subscribe(topic, qos=config.qos)
    # online only once subscribed: a client that waits for it never publishes into the void
    await client.publish(f"{prefix}/online", "true", qos=1, retain=True)
    tasks = [asyncio.create_task(_receive(client, controller, prefix)),
             asyncio.create_task(_publish_status(client, controller, config)),
             asyncio.create_task(_publish_events(client, controller, config, events)),
             asyncio.create_task(stop.wait())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        error = task.exception()
        if error is not None:
            raise error


async def _receive(client: aiomqtt.Client, controller: Core, prefix: str) -> None:
    messages = client.messages
    async for first in messages:
        # what else has arrived is taken now: a flood is applied a batch at a time
        batch = [first]
        while len(messages) and len(batch) < MAX_BATCH:
            batch.append(await anext(messages))
        commands: list[Timed] = []
        for message in batch:
            command = _command(message, controller, prefix)
            if command is not None:
                command = controller.admit(command, "MQTT ")
            if command is not None:
                commands.append((command, None))
        controller.submit_batch(commands, "MQTT ", "mqtt_coalesced")


def _command(message: aiomqtt.Message, controller: Core, prefix: str
             ) -> Command | None:
    topic = message.topic.value
    suffix = topic[len(prefix) + 1:] if topic.startswith(prefix + "/") else topic
    payload = message.payload
    if isinstance(payload, str):
        payload = payload.encode()
    elif not isinstance(payload, bytes | bytearray):
        payload = json.dumps(payload).encode()
    try:
        return command_from_mqtt(suffix, bytes(payload))
    except InputRejected as error:
        controller.stats.count(error.kind, f"MQTT {error}")
        return None


def _status_payload(status: dict[str, Any]) -> str:
    return json.dumps(status, sort_keys=True)


async def _publish_status(client: aiomqtt.Client, controller: Core,
                          config: MqttConfig) -> None:
    """Retained status on every change of section, rest or counters, and periodically."""
    last_key: tuple[Any, ...] | None = None
    last_sent = 0.0
    loop = asyncio.get_running_loop()
    while True:
        status = controller.status()
        key = (status["section"], status["resting"], tuple(sorted(status["counters"].items())),
               tuple(sorted(status["params"].items())))
        now = loop.time()
        if key != last_key or now - last_sent >= STATUS_PERIOD:
            await client.publish(f"{config.prefix}/status", _status_payload(status),
                                 qos=config.qos, retain=True)
            last_key, last_sent = key, now
        await asyncio.sleep(0.1)


async def _publish_events(client: aiomqtt.Client, controller: Core, config: MqttConfig,
                          events: asyncio.Queue[Event]) -> None:
    while True:
        event = await events.get()
        body = {"args": list(event.args), "sample": event.sample,
                "time": event.sample / controller.sample_rate,
                "wall": controller.wall_at(event.sample)}
        await client.publish(f"{config.prefix}/event/{event.kind}", json.dumps(body),
                             qos=config.qos)


class MqttEndpoint:
    """MQTT as an `Endpoint`: its own thread and asyncio loop around `run_mqtt`."""

    name = "mqtt"
    STOP_TIMEOUT = 3.0  # seconds to say offline before leaving anyway

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def open(self) -> None:
        """Nothing to take ahead: a broker that is down now may come later."""

    def start(self, core: Core) -> None:
        self._thread = threading.Thread(target=self._main, args=(core,), name="adaptive-mqtt",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def _main(self, core: Core) -> None:
        realtime_thread("adaptive-mqtt")
        try:
            asyncio.run(self._run(core))
        except Exception:  # never seen; logged, and the music goes on without MQTT
            log.exception("MQTT stopped")

    async def _run(self, core: Core) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await run_mqtt(core, self.config, self._stop)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(self.STOP_TIMEOUT)
