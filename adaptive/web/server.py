"""The control surface over HTTP and a WebSocket, and `/metrics`: one more `Endpoint`.

Theory of operation
-------------------
`open` binds the socket (a busy port is one line, before any audio starts) and settles
the token; `start` runs uvicorn with a Starlette app on an asyncio loop in a thread of its
own. Routes: `/` (the page), `/static/*` (its script and style, shipped in the package),
`/ws` (the WebSocket), `/metrics` (Prometheus). The page and `/ws` and `/metrics` ask for
the token when the server is bound beyond loopback (`surface.HttpConfig.needs_token`):
`?token=` or `Authorization: Bearer`.

One broadcaster task reads the controller's status `PUSH_RATE` times a second while any
page is connected, builds one JSON text and offers it to each page's queue of two (a slow
page misses pushes; it never slows the others or the controller). Beats come from the
output bus ahead of time, with the seconds until they sound, so the page lights its beat
on time rather than a push late. What a page sends is parsed as MQTT's `cmd` is
(`surface.parse_message`) and handed to the controller like any input (`admit`,
`submit_batch`, source `web`); bad frames are counted, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from adaptive.live.controller import Event
from adaptive.live.endpoint import Core, StartupError
from adaptive.live.inputs import InputRejected
from adaptive.live.threads import realtime_thread
from adaptive.web.metrics import CONTENT_TYPE, Metrics
from adaptive.web.surface import (
    PUSH_RATE,
    HttpConfig,
    beat_view,
    parse_message,
    score_view,
    status_view,
    token_ok,
)

if TYPE_CHECKING:
    from adaptive.live.xruns import XrunCounter

log = logging.getLogger("adaptive.web")

SOURCE = "web "
CLIENT_QUEUE = 2
MAX_FRAME = 16 * 1024


def static_dir() -> Path:
    return Path(str(resources.files("adaptive.web") / "static"))


def given_token(connection: HTTPConnection) -> str | None:
    token = connection.query_params.get("token")
    if token is not None:
        return token
    header = connection.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


class Surface:
    """The app and its broadcaster, on the endpoint's loop."""

    def __init__(self, core: Core, config: HttpConfig, metrics: Metrics | None = None,
                 xruns: Callable[[], int | None] | None = None) -> None:
        self.core = core
        self.config = config
        self.clients: set[asyncio.Queue[str]] = set()
        self.metrics = metrics or Metrics(core, clients=lambda: len(self.clients),
                                          xruns=xruns or (lambda: None))
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the pages are served on (beats from the bus's thread go there)."""
        self._wake = asyncio.Event()
        self._reloads = -1
        self.refused = 0
        self.app = Starlette(routes=[
            Route("/", self.page),
            Route("/metrics", self.scrape),
            WebSocketRoute("/ws", self.socket),
            Mount("/static", StaticFiles(directory=static_dir()), name="static"),
        ])

    def allowed(self, connection: HTTPConnection) -> bool:
        if token_ok(self.config.token if self.config.needs_token else None,
                    given_token(connection)):
            return True
        self.refused += 1
        client = connection.client.host if connection.client else "?"
        self.core.stats.count("web_refused", f"web: {connection.url.path} from {client} "
                              "without the right token")
        return False

    async def page(self, request: Request) -> Response:
        if not self.allowed(request):
            return PlainTextResponse("403: this control surface needs its token: open the "
                                     "address `adaptive serve` printed at start", 403)
        return HTMLResponse((static_dir() / "index.html").read_text(encoding="utf-8"))

    async def scrape(self, request: Request) -> Response:
        if not self.allowed(request):
            return PlainTextResponse("403: token needed", 403)
        text = await asyncio.to_thread(self.metrics.text)
        return Response(text, media_type=CONTENT_TYPE)

    async def socket(self, websocket: WebSocket) -> None:
        if not self.allowed(websocket):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        outbox: asyncio.Queue[str] = asyncio.Queue(CLIENT_QUEUE)
        await websocket.send_text(json.dumps(score_view(self.core.score)))
        self.clients.add(outbox)
        self._wake.set()
        sender = asyncio.create_task(self._send(websocket, outbox))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self.receive(message.get("text") or message.get("bytes") or b"")
        except WebSocketDisconnect:
            pass
        except Exception as error:  # a broken frame or peer: count it, keep serving
            self.core.stats.count("web_error", f"web: {type(error).__name__}: {error}")
        finally:
            self.clients.discard(outbox)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def receive(self, frame: str | bytes) -> None:
        """One frame from a page (text or binary): a command, or a counted rejection."""
        if len(frame) > MAX_FRAME:
            self.core.stats.count("too_large", f"web: a {len(frame)}-character frame")
            return
        try:
            command = parse_message(frame)
        except InputRejected as error:
            self.core.stats.count(error.kind, str(error))
            return
        admitted = self.core.admit(command, SOURCE)
        if admitted is not None:
            self.core.submit_batch([(admitted, None)], SOURCE, "web_coalesced")

    @staticmethod
    async def _send(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(Exception):  # the receiver sees the disconnect
            while True:
                await websocket.send_text(await outbox.get())

    def offer(self, text: str) -> None:
        for outbox in list(self.clients):
            if outbox.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    outbox.get_nowait()  # the newest status replaces the oldest
            outbox.put_nowait(text)

    async def broadcast(self) -> None:
        """Push the status while pages are connected; sleep while none is."""
        period = 1.0 / PUSH_RATE
        next_push = time.monotonic()
        while True:
            if not self.clients:
                self._wake.clear()
                await self._wake.wait()
                next_push = time.monotonic()
            try:
                status = self.core.status()
                if status.get("reloads") != self._reloads:
                    if self._reloads >= 0:
                        self.offer(json.dumps(score_view(self.core.score)))
                    self._reloads = int(status.get("reloads") or 0)
                view = status_view(status, self.core.levels(), self.core.stats.recent(),
                                   len(self.clients))
                self.offer(json.dumps(view))
            except Exception:  # the surface must go on: log and try the next push
                log.exception("web: building the status failed")
            next_push += period
            delay = next_push - time.monotonic()
            if delay < -period:
                next_push = time.monotonic()
            await asyncio.sleep(max(delay, 0.0))

    def on_event(self, event: Event) -> None:
        """The bus's thread: forward beats to the loop, where the pages are."""
        if event.kind != "beat" or not self.clients or self.loop is None:
            return
        bar, beat = (int(event.args[0]), int(event.args[1])) if len(event.args) >= 2 \
            else (0, 0)
        text = json.dumps(beat_view(bar, beat, event.sample, self.core.wall_at(event.sample),
                                    time.time()))
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(self.offer_beat, text)

    def offer_beat(self, text: str) -> None:
        for outbox in list(self.clients):
            if outbox.full():  # a beat must not wait behind a stale status
                with contextlib.suppress(asyncio.QueueEmpty):
                    outbox.get_nowait()
            outbox.put_nowait(text)


class WebEndpoint:
    """`--http HOST:PORT`: the control surface and `/metrics` as an `Endpoint`."""

    name = "web"
    STOP_TIMEOUT = 3.0

    def __init__(self, config: HttpConfig, xruns: XrunCounter | None = None) -> None:
        self.config = config.with_token()
        self.xruns = xruns
        self.surface: Surface | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._detach: Callable[[], None] = lambda: None

    @property
    def url(self) -> str:
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        port = self._socket.getsockname()[1] if self._socket is not None else self.config.port
        query = f"/?token={self.config.token}" if self.config.needs_token else "/"
        return f"http://{shown}:{port}{query}"

    def open(self) -> None:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.config.host, self.config.port))
            sock.listen(64)
        except OSError as error:
            sock.close()
            raise StartupError(f"--http {self.config.host}:{self.config.port}: cannot listen "
                               f"there: {error.strerror or error}") from None
        sock.setblocking(False)
        self._socket = sock

    def start(self, core: Core) -> None:
        assert self._socket is not None, "open() first"
        if self.xruns is not None and not self.xruns.open():
            self.xruns = None
        self._thread = threading.Thread(target=self._main, args=(core,), name="adaptive-web",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)
        where = "" if self.config.needs_token else " (loopback: no token needed)"
        log.info("control surface: %s%s; metrics at /metrics", self.url, where)

    def _main(self, core: Core) -> None:
        realtime_thread("adaptive-web")
        try:
            asyncio.run(self._run(core))
        except Exception:  # never seen; logged, and the music goes on without the page
            log.exception("web: the server stopped")

    async def _run(self, core: Core) -> None:
        surface = Surface(core, self.config, xruns=self.xruns)
        surface.loop = asyncio.get_running_loop()
        self.surface = surface
        self._detach = surface.metrics.attach()
        subscription = core.bus.subscribe("web_beats", surface.on_event)
        config = uvicorn.Config(surface.app, log_level="warning", access_log=False,
                                lifespan="off", ws="websockets-sansio", ws_max_size=MAX_FRAME,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        broadcaster = asyncio.create_task(surface.broadcast())
        self._ready.set()
        try:
            assert self._socket is not None
            await self._server.serve(sockets=[self._socket])
        finally:
            broadcaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await broadcaster
            core.bus.unsubscribe(subscription)
            self._detach()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.STOP_TIMEOUT)
            self._thread = None
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        if self.xruns is not None:
            self.xruns.close()
