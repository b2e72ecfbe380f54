"""Features: raw tables -> streams -> grid/window statistics -> the feature matrix.

Public entry points (imported lazily, so that the CLI starts fast):
``STREAM_SPECS``, ``build_streams`` (streams.py), ``feature_columns``,
``features_for_prompts``, ``extract_release`` (extract.py), ``make_labels`` (labels.py).
"""

from __future__ import annotations

_EXPORTS = {
    "STREAM_SPECS": "streams",
    "Stream": "streams",
    "StreamSpec": "streams",
    "build_streams": "streams",
    "feature_columns": "extract",
    "features_for_prompts": "extract",
    "extract_release": "extract",
    "make_labels": "labels",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f"kemo_attention.features.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'kemo_attention.features' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
