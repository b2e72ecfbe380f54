"""People page: one participant's answers over their study days against the model's
out-of-fold probability, and their own scores."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from kemo_attention.dashboard import cache, data
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.feature_names import plain_header
from kemo_attention.dashboard.views.common import eval_or_stop, model_picker


def render(cfg: DashboardConfig) -> None:
    st.header("People")
    folder = eval_or_stop(cfg, ("oof",))
    if folder is None:
        return
    oof = folder.get("oof")
    pcodes = sorted(set(oof["pcode"]))
    if not pcodes:
        st.info("`oof_predictions.parquet` holds no predictions.")
        return
    left, right = st.columns(2)
    with left:
        pcode = st.selectbox("Participant", pcodes, key="people_pcode")
    with right:
        model = model_picker(folder, "Model", key="people_model")
    if model is None:
        return
    st.subheader(f"Participant {pcode}")
    tz = data.tz_of(oof)
    timeline = data.participant_timeline(oof, pcode, model)
    if timeline.empty:
        st.info(f"`{model}` has no out-of-fold prediction for {pcode}.")
        return
    n, n1 = len(timeline), int(timeline["y_true"].sum())
    folds = ", ".join(str(f) for f in sorted(set(timeline["fold"])))
    st.caption(
        f"{n} answers ({n1} labelled 1, {n - n1} labelled 0), predicted by `{model}` while held out in fold {folds}. "
        "The probability is out-of-fold: the model never saw this person's answers."
    )
    raw = _raw_answers(cfg, folder, pcode, tz, timeline)
    _timeline_chart(timeline, raw, folder.label)
    _own_scores(folder, pcode, model)


def _raw_answers(cfg: DashboardConfig, folder: data.EvalFolder, pcode: str, tz, timeline: pd.DataFrame) -> pd.DataFrame | None:
    if cfg.release is None:
        st.caption("Start with `--release DIR` to see the raw answers (-3..+3) beside the binary labels.")
        return None
    try:
        layout = cache.release_layout(cfg.release)
        if layout.esm_path is None:
            st.warning(f"The release `{cfg.release}` has no EsmResponse.csv: raw answers are not shown.")
            return None
        esm = cache.esm(layout.esm_path)
    except Exception as exc:  # a broken release must not hide the predictions
        st.warning(f"Raw answers not shown: {exc}")
        return None
    raw = data.raw_answers(esm, pcode, folder.label, tz, data.first_midnight_ms(timeline, tz))
    if raw.empty:
        st.info(f"The release has no `{folder.label}` answers of {pcode}.")
        return None
    return raw


def _timeline_chart(timeline: pd.DataFrame, raw: pd.DataFrame | None, label: str) -> None:
    has_time = bool(np.isfinite(timeline["study_day"]).all())
    x_field, x_title = ("study_day", "study day (local time)") if has_time else ("answer_no", "answer number")
    # One x scale for both charts, so a day sits at the same place in each.
    days = [timeline[x_field].min(), timeline[x_field].max()]
    if raw is not None and has_time and len(raw):
        days = [min(days[0], raw["study_day"].min()), max(days[1], raw["study_day"].max())]
    if days[0] == days[1]:
        days = [days[0] - 0.5, days[1] + 0.5]
    x = alt.X(f"{x_field}:Q", title=x_title, scale=alt.Scale(domain=[float(days[0]), float(days[1])], nice=False))
    tooltip = [alt.Tooltip("local_time:N", title="local time"), "fold", alt.Tooltip("proba:Q", format=".3f", title="P(y=1)"), alt.Tooltip("y_true:Q", title="label")]
    frame = timeline.assign(label_name=timeline["y_true"].map({0: "label 0", 1: "label 1"}))
    proba = alt.Chart(frame).mark_line(point=True, color="#1f77b4").encode(
        x=x, y=alt.Y("proba:Q", title="P(y=1) / label", scale=alt.Scale(domain=[0, 1])), tooltip=tooltip
    )
    truth = alt.Chart(frame).mark_point(size=70, filled=True).encode(
        x=x, y="y_true:Q",
        color=alt.Color("label_name:N", title=None, scale=alt.Scale(domain=["label 0", "label 1"], range=["#d62728", "#2ca02c"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=tooltip,
    )
    half = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    top = (half + proba + truth).properties(height=260, title="Out-of-fold probability (line) and true label (dots)")
    # Two charts, each stretched to the column: a vconcat of stretched charts is drawn wider
    # than its column (its legend and axes come on top of the stretched width). Legends sit
    # below, so both plots are equally wide and a day lines up in the two.
    st.altair_chart(top, width="stretch")
    if raw is None or not has_time:
        return
    raw = raw.assign(kind=np.where(raw["scheduled"], "scheduled", "voluntary"))
    bars = alt.Chart(raw).mark_bar(size=4).encode(
        x=x,
        y=alt.Y("value:Q", title=f"{label} (-3..+3)", scale=alt.Scale(domain=[-3, 3])),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=["scheduled", "voluntary"], range=["#555555", "#bbbbbb"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("local_time:N", title="local time"), "value", "kind"],
    )
    bottom = bars.properties(height=160, title=f"Raw {label} answers from EsmResponse")
    st.altair_chart(bottom, width="stretch")


def _own_scores(folder: data.EvalFolder, pcode: str, model: str) -> None:
    scores = folder.get("participants")
    st.subheader("Their scores")
    if scores is None:
        st.info("No `participant_scores.csv` in the evaluation folder.")
        return
    own = scores[scores["pcode"] == pcode]
    if own.empty:
        st.info(f"`participant_scores.csv` has no rows for {pcode}.")
        return
    order = {m: i for i, m in enumerate(folder.models())}
    own = own.assign(_o=own["model"].map(order).fillna(len(order))).sort_values(["_o", "fold"]).drop(columns="_o")
    columns = [c for c in ("model", "fold", "n", "n_1", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc") if c in own.columns]
    shown = own[columns].copy()
    for c in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc"):
        if c in shown:
            shown[c] = shown[c].map(lambda v: "" if v != v else f"{v:.3f}")
    shown.columns = [plain_header(c) for c in shown.columns]
    st.table(shown.set_index(plain_header("model")))
    st.caption(f"Highlighted model on the chart: `{model}`. ROC AUC is empty when the person gave one label only.")
