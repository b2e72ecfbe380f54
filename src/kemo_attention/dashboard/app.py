"""The Streamlit app: ``streamlit run app.py`` (``kemo-attention dashboard`` does that).

Inputs come from environment variables set by the CLI (see ``config.py``). Navigation is a
sidebar radio: one page renders per run, and ``AppTest`` drives it like any widget.
"""

from __future__ import annotations

import streamlit as st

from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.views import data_yield, features, live, models, people, study, try_it

PAGES = {
    "Models": models.render,
    "Features": features.render,
    "People": people.render,
    "Data": data_yield.render,
    "Try it": try_it.render,
    "Live": live.render,
    "Study": study.render,
}


def _inputs(cfg: DashboardConfig) -> None:
    rows = [
        ("evaluation", cfg.eval_dir, "--eval"),
        ("bundle", cfg.bundle, "--bundle"),
        ("release", cfg.release, "--release"),
        ("check report", cfg.check, "--check"),
        ("live store", cfg.store, "--store"),
        ("study", cfg.study, "--study"),
    ]
    lines = []
    for name, path, flag in rows:
        if path is None:
            lines.append(f"- {name}: not given (`{flag}`)")
        elif not path.exists():
            lines.append(f"- {name}: `{path}` (missing!)")
        else:
            lines.append(f"- {name}: `{path.name}`")
    st.caption("Inputs\n" + "\n".join(lines))


def main() -> None:
    st.set_page_config(page_title="kemo-attention", page_icon=":material/psychology:", layout="wide")
    cfg = DashboardConfig.from_env()
    with st.sidebar:
        st.title("kemo-attention")
        page = st.radio("Page", list(PAGES), key="page")
        _inputs(cfg)
    PAGES[page](cfg)


main()
