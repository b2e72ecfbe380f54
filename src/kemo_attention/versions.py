"""Which library versions made an artefact: one recorder for feature files, runs and bundles."""

from __future__ import annotations

import platform
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

# A library installed under another distribution name (xgboost may come as xgboost-cpu).
_DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


def library_versions(libraries: Iterable[str]) -> dict[str, str | None]:
    """``{"python": ..., library: installed version or None}`` for the given distribution names."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in libraries:
        found = None
        for dist in _DISTRIBUTIONS.get(lib, (lib,)):
            try:
                found = version(dist)
                break
            except PackageNotFoundError:
                continue
        out[lib] = found
    return out
