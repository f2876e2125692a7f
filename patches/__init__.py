"""Procedural instruments shipped with adaptive: one module per patch.

See adaptive.engine.patch_api for the interface.
"""
