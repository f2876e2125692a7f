"""Performer overrides of layers: mute, solo and gain on top of the score's own curves.

A layer is named either by its name alone (it then applies in every section that has a
layer of that name) or as 'section.layer'. The result is one multiplier per layer,
which the engine applies with a short ramp so a mute never clicks.
"""

from __future__ import annotations

from adaptive.commands import LayerAuto, LayerGain, LayerMute, LayerSolo
from adaptive.curves import db_to_amplitude
from adaptive.score.model import Score

LayerKey = tuple[str, str]  # (section, layer)


class LayerOverrides:
    def __init__(self, score: Score) -> None:
        self.keys: list[LayerKey] = [(section, layer) for section, spec in
                                     score.sections.items() for layer in spec.layers]
        self.muted: set[str] = set()
        self.soloed: set[str] = set()
        self.gains_db: dict[str, float] = {}

    def apply(self, command: LayerMute | LayerSolo | LayerGain | LayerAuto) -> None:
        name = command.layer
        if isinstance(command, LayerMute):
            (self.muted.add if command.on else self.muted.discard)(name)
        elif isinstance(command, LayerSolo):
            (self.soloed.add if command.on else self.soloed.discard)(name)
        elif isinstance(command, LayerGain):
            self.gains_db[name] = command.db
        else:
            self.muted.discard(name)
            self.soloed.discard(name)
            self.gains_db.pop(name, None)

    def multipliers(self) -> dict[LayerKey, float]:
        out: dict[LayerKey, float] = {}
        for section, layer in self.keys:
            names = {layer, f"{section}.{layer}"}
            if names & self.muted or (self.soloed and not names & self.soloed):
                out[(section, layer)] = 0.0
            else:
                out[(section, layer)] = db_to_amplitude(sum(self.gains_db.get(n, 0.0)
                                                            for n in names))
        return out
