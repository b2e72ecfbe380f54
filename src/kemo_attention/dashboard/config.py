"""What the dashboard was started with: six optional paths and the bundle's expected SHA-256,
passed from the CLI in env vars.

Environment variables (rather than ``streamlit run app.py -- args``) because they reach the
script the same way under ``streamlit run`` and under ``streamlit.testing.v1.AppTest``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_EVAL = "KEMO_DASHBOARD_EVAL"
ENV_BUNDLE = "KEMO_DASHBOARD_BUNDLE"
ENV_RELEASE = "KEMO_DASHBOARD_RELEASE"
ENV_CHECK = "KEMO_DASHBOARD_CHECK"
ENV_BUNDLE_SHA256 = "KEMO_DASHBOARD_BUNDLE_SHA256"  # the bundle's expected SHA-256 (`dashboard --sha256`)
ENV_STORE = "KEMO_DASHBOARD_STORE"  # the live store (`kemo-attention serve --store`)
ENV_STUDY = "KEMO_DASHBOARD_STUDY"  # the study folder (`kemo-attention study --out`)
ENV_VARS = (ENV_EVAL, ENV_BUNDLE, ENV_RELEASE, ENV_CHECK, ENV_BUNDLE_SHA256, ENV_STORE, ENV_STUDY)


@dataclass(frozen=True)
class DashboardConfig:
    """Inputs of one dashboard session; ``None`` = not given (the page that needs it says so)."""

    eval_dir: Path | None = None
    bundle: Path | None = None
    release: Path | None = None
    check: Path | None = None
    bundle_sha256: str | None = None  # when given, the bundle loads only if its file has this SHA-256
    store: Path | None = None
    study: Path | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DashboardConfig:
        env = os.environ if environ is None else environ

        def path(key: str) -> Path | None:
            value = env.get(key, "").strip()
            return Path(value) if value else None

        sha256 = env.get(ENV_BUNDLE_SHA256, "").strip() or None
        return cls(path(ENV_EVAL), path(ENV_BUNDLE), path(ENV_RELEASE), path(ENV_CHECK), sha256, path(ENV_STORE), path(ENV_STUDY))

    def to_env(self) -> dict[str, str]:
        """Absolute paths for the Streamlit subprocess (its working folder may differ)."""
        pairs = (
            (ENV_EVAL, self.eval_dir), (ENV_BUNDLE, self.bundle), (ENV_RELEASE, self.release), (ENV_CHECK, self.check),
            (ENV_STORE, self.store), (ENV_STUDY, self.study),
        )
        env = {key: str(value.resolve()) if value is not None else "" for key, value in pairs}
        env[ENV_BUNDLE_SHA256] = self.bundle_sha256 or ""
        return env
