"""Features page: how often each feature survived selection across folds, and its importance,
grouped by stream and by window in plain words."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from kemo_attention.dashboard import data
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.feature_names import plain_header
from kemo_attention.dashboard.views.common import eval_or_stop


def render(cfg: DashboardConfig) -> None:
    st.header("Features")
    folder = eval_or_stop(cfg, ("selected",))
    if folder is None:
        return
    selected = folder.get("selected")
    models = [m for m in folder.models() if m in set(selected["model"])] or sorted(set(selected["model"]))
    if not models:
        st.info("`selected_features.csv` is empty: no model selected any feature.")
        return
    default = next((m for m in models if m != "dummy"), models[0])
    model = st.selectbox("Model", models, index=models.index(default), key="feat_model")
    n_folds = folder.n_folds(model)
    table = data.selection_table(selected, model, n_folds)
    if table.empty:
        st.info(f"`{model}` kept no features in any fold.")
        return
    has_importance = table["mean_importance"].notna().any()
    st.caption(
        f"{len(table)} distinct features kept by `{model}` in at least one of {n_folds} folds. "
        "Frequency = share of folds whose selection kept the feature; importance = the estimator's, "
        "averaged over the folds that kept it" + ("" if has_importance else " (this estimator reports none)") + "."
    )

    st.subheader("By stream")
    by_stream = data.group_selection(table, "stream")
    chart = alt.Chart(by_stream.head(25)).mark_bar().encode(
        x=alt.X("selections:Q", title="selections (sum of frequencies)"),
        y=alt.Y("stream:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["stream", "features", alt.Tooltip("selections:Q", format=".2f"), alt.Tooltip("top_features:N", title="most often kept")],
    )
    st.altair_chart(chart.properties(height=alt.Step(22)), width="stretch")
    st.table(_rounded(by_stream.set_index("stream")))

    st.subheader("By window")
    by_window = data.group_selection(table, "window")
    st.table(_rounded(by_window.set_index("window")))

    st.subheader("Every kept feature")
    top = len(table)
    if len(table) > 10:  # a slider needs a range; short lists are shown whole
        top = st.slider("Show the top", min_value=10, max_value=len(table), value=min(30, len(table)), key="feat_top")
    # A static table wraps its cells, so every column stays on screen in a narrow window
    # (a data grid would hide the right-hand columns behind a sideways scroll).
    shown = table.head(top)
    every = pd.DataFrame(
        {
            "feature": shown["feature"],
            "in plain words": shown["label"],
            "folds": shown["folds"].astype(int),
            "frequency": shown["frequency"].map(lambda v: f"{v:.2f}"),
            "mean importance": shown["mean_importance"].map(lambda v: "" if v != v else f"{v:.4g}"),
        }
    )
    st.table(every.set_index("feature"))


def _rounded(frame):
    out = frame.copy()
    out["selections"] = out["selections"].map(lambda v: f"{v:.2f}")
    out["mean_importance"] = out["mean_importance"].map(lambda v: "" if v != v else f"{v:.4g}")
    out.columns = [plain_header(c) for c in out.columns]
    return out
