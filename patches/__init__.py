"""Procedural instruments shipped with adaptive; each module is one patch (see adaptive.engine.patch_api)."""
