"""Bits every page shares: getting the eval folder or saying clearly why there is none."""

from __future__ import annotations

import streamlit as st

from kemo_attention.dashboard import cache
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.data import EVAL_TABLES, EvalFolder

EVAL_HINT = (
    "Start the dashboard with `--eval DIR`, the folder `kemo-attention evaluate` wrote "
    "(default `eval/attention`); `kemo-attention demo` makes one from demo data."
)


def eval_or_stop(cfg: DashboardConfig, needs: tuple[str, ...]) -> EvalFolder | None:
    """The eval folder when it has the tables this page ``needs``; otherwise a message and ``None``."""
    if cfg.eval_dir is None:
        st.info("No evaluation folder was given. " + EVAL_HINT)
        return None
    if not cfg.eval_dir.is_dir():
        st.error(f"The evaluation folder `{cfg.eval_dir}` does not exist (any more). " + EVAL_HINT)
        return None
    folder = cache.eval_folder(cfg.eval_dir)
    missing = [name for name in needs if folder.get(name) is None]
    if missing:
        lines = []
        for name in missing:
            file_name = EVAL_TABLES[name][0]
            lines.append(f"- `{file_name}`: {folder.problems.get(file_name, 'not loaded')}")
        st.warning(f"This page needs files that `{cfg.eval_dir}` does not provide:\n" + "\n".join(lines))
        return None
    return folder


def model_picker(folder: EvalFolder, label: str, key: str, *, prefer_real: bool = True) -> str | None:
    """Select one model; defaults to the best model that is not the dummy."""
    models = folder.models()
    if not models:
        st.warning("The evaluation folder names no models.")
        return None
    default = next((m for m in models if m != "dummy"), models[0]) if prefer_real else models[0]
    return st.selectbox(label, models, index=models.index(default), key=key)
