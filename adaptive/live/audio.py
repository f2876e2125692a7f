"""The live audio backend: a pyo server on PortAudio (a sound card) or JACK."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

from adaptive.errors import AudioError

log = logging.getLogger("adaptive.audio")


@dataclass
class AudioConfig:
    backend: Literal["portaudio", "jack"] = "portaudio"
    sample_rate: int | None = None  # None: the score's rate
    block: int = 256  # with JACK it must equal the JACK period
    device: int | None = None  # PortAudio output device index (see `adaptive devices`)
    jack_name: str = "adaptive"
    jack_server: str | None = None  # JACK server name (JACK_DEFAULT_SERVER)
    jack_connect: list[str] = field(default_factory=list)  # ports to feed, left then right


def boot_live_server(pyo: ModuleType, config: AudioConfig, sample_rate: int) -> Any:
    """Boot (not start) a pyo server for real-time playback."""
    if config.jack_server:
        os.environ["JACK_DEFAULT_SERVER"] = config.jack_server
    kwargs: dict[str, Any] = {"sr": sample_rate, "nchnls": 2, "buffersize": config.block,
                              "duplex": 0, "audio": config.backend}
    if config.backend == "jack":
        kwargs["jackname"] = config.jack_name
    server = pyo.Server(**kwargs)
    server.setVerbosity(1)
    server.deactivateMidi()
    if config.backend == "jack":
        # we connect our ports ourselves: pyo's auto-connection would pick system ports
        server.setJackAuto(False, False)
        if config.jack_connect:
            server.setJackAutoConnectOutputPorts([[port] for port in config.jack_connect])
    elif config.device is not None:
        server.setOutputDevice(config.device)
    server.boot()
    if not server.getIsBooted():
        raise AudioError(f"the {config.backend} audio backend did not start "
                           "(is a JACK server running? is the device free?)")
    return server


def list_devices(pyo: ModuleType) -> str:
    """PortAudio's output devices, one line each (index, name, default rate)."""
    names, indexes = pyo.pa_get_output_devices()
    default = pyo.pa_get_default_output()
    lines = []
    for name, index in zip(names, indexes, strict=False):
        marker = "*" if index == default else " "
        lines.append(f"{marker} {index:3d}  {name}")
    return "\n".join(lines) if lines else "no PortAudio output device found"
