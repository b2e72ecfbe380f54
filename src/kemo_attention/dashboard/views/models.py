"""Models page: leaderboard, ROC / PR curves, confusion matrices, per-participant spread."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from kemo_attention.dashboard import data
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.feature_names import plain_header

DEFAULT_METRICS = ("f1_macro", "roc_auc", "balanced_accuracy", "accuracy")
from kemo_attention.dashboard.views.common import eval_or_stop

def render(cfg: DashboardConfig) -> None:
    st.header("Models")
    folder = eval_or_stop(cfg, ("leaderboard",))
    if folder is None:
        return
    _run_caption(folder)
    _leaderboard(folder)
    models = folder.models()
    oof = folder.get("oof")
    if oof is None:
        st.warning(f"No out-of-fold predictions (`oof_predictions.parquet`: {folder.problems.get('oof_predictions.parquet', 'missing')}): no curves or confusion matrices.")
    else:
        _curves(oof, models, folder.get("leaderboard"))
        _confusions(oof, models)
    _participant_spread(folder, models)


def _run_caption(folder: data.EvalFolder) -> None:
    m = folder.manifest
    settings = m.get("settings") or {}
    inputs = m.get("input") or {}
    bits = [f"label **{folder.label}**"]
    if m.get("feature_mode"):
        bits.append(f"features **{m['feature_mode']}**")
    if settings.get("cv"):
        bits.append(f"CV **{settings['cv']}**" + (f" × {settings['n_splits']}" if settings.get("n_splits") and settings.get("cv") != "logo" else ""))
    if inputs.get("n_samples"):
        bits.append(f"{inputs['n_samples']} samples")
    if inputs.get("n_participants"):
        bits.append(f"{inputs['n_participants']} participants")
    if m.get("created"):
        bits.append(f"run {m['created']}")
    st.caption(" · ".join(bits) + f" · folder `{folder.path}`")
    if m and m.get("complete") is False:
        st.warning("The manifest says this run is not complete.")


def _leaderboard(folder: data.EvalFolder) -> None:
    lb = folder.get("leaderboard")
    st.subheader("Leaderboard")
    available = data.metric_names(lb)
    if not available:
        st.warning("`leaderboard.csv` has no `<metric>_mean` columns.")
        return
    # The four columns the terminal prints: they fit a 1000 px window unwrapped; more on demand.
    defaults = [m for m in DEFAULT_METRICS if m in available] or [m for m in data.KEY_METRICS if m in available] or available[:4]
    chosen = st.multiselect("Metrics", available, default=defaults, key="lb_metrics", format_func=plain_header)
    view = data.leaderboard_view(lb, chosen or defaults)
    view.columns = [plain_header(c) for c in view.columns]
    # st.table, not st.dataframe: a small static table that reads (and prints) as text.
    st.table(view)
    n = folder.n_folds()
    st.caption(
        "Mean ± SD over the test folds" + (f" ({n})" if n else "")
        + ". `dummy` predicts the class prior: the floor every other model is read against."
    )
    if "dummy" not in set(lb["model"]):
        st.warning("The leaderboard has no `dummy` row: there is no chance floor to compare with.")
    with st.expander("All metrics, mean ± SD (leaderboard.csv)"):
        # Metrics down, models across: fits a narrow window, where 40 columns would not.
        every = data.leaderboard_view(lb, available).T
        every.index = pd.Index([plain_header(m) for m in every.index], name="metric")
        st.table(every)


def _curves(oof: pd.DataFrame, models: list[str], leaderboard: pd.DataFrame) -> None:
    st.subheader("ROC and precision-recall curves")
    st.caption(
        "Curves of the out-of-fold predictions of all folds pooled. The legend gives two areas: **folds**, "
        "the mean over the test folds (the leaderboard's number), and **pooled**, the area under the drawn curve. "
        "They differ when the folds differ: the dummy predicts its training fold's share of 1s, one constant per "
        "fold, so its ROC AUC is 0.500 in every fold but not when the folds are pooled. Dashed: chance."
    )
    chosen = st.multiselect("Models", models, default=models, key="curve_models")
    part = oof[oof["model"].isin(chosen)]
    # One below the other, not side by side: half a column at 1000 px clips the legend,
    # which names two areas per model.
    for kind in ("roc", "pr"):
        curves, areas = data.oof_curves(part, kind)
        with st.container():
            if curves.empty:
                st.info("No curve: the predictions hold only one class.")
                continue
            fold_means = data.fold_mean_areas(leaderboard, kind)
            legend = {m: data.curve_legend(m, kind, fold_means.get(m), areas[m]) for m in areas}
            curves["legend"] = curves["model"].map(legend)
            order = [legend[m] for m in chosen if m in legend]
            x_title, y_title = ("false positive rate", "true positive rate") if kind == "roc" else ("recall (class 1)", "precision (class 1)")
            # PR: precision holds from each recall down to the previous one (sklearn's steps-post
            # drawn on descending recall), so a constant predictor shows as a flat line at the base rate.
            lines = alt.Chart(curves).mark_line(interpolate="step-before" if kind == "pr" else "linear").encode(
                x=alt.X("x:Q", title=x_title, scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("y:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
                color=alt.Color("legend:N", sort=order, title=None, legend=alt.Legend(orient="bottom", columns=1, labelLimit=0)),
                tooltip=["model", alt.Tooltip("x:Q", format=".3f", title=x_title), alt.Tooltip("y:Q", format=".3f", title=y_title)],
            )
            if kind == "roc":
                ref = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
            else:
                rate = float(part["y_true"].mean()) if len(part) else 0.5
                ref = pd.DataFrame({"x": [0.0, 1.0], "y": [rate, rate]})
            chance = alt.Chart(ref).mark_line(strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
            title = "ROC" if kind == "roc" else "Precision-recall"
            st.altair_chart((chance + lines).properties(title=title, height=340), width="stretch")


def _confusions(oof: pd.DataFrame, models: list[str]) -> None:
    st.subheader("Confusion matrices")
    st.caption("Out-of-fold, all folds pooled. Colour = share of the true class; numbers = counts.")
    cells = data.confusion_counts(oof)
    if cells.empty:
        st.info("No predictions to count.")
        return
    cells["true"] = cells["true"].map({0: "0 (not focused)", 1: "1 (focused)"})
    cells["predicted"] = cells["predicted"].map({0: "0", 1: "1"})
    base = alt.Chart().encode(
        x=alt.X("predicted:N", title="predicted"),
        y=alt.Y("true:N", title="true"),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), title="share",
                        legend=alt.Legend(orient="bottom")),
        tooltip=["model", "true", "predicted", "count", alt.Tooltip("share:Q", format=".1%")],
    )
    text = base.mark_text(fontSize=14).encode(
        text="count:Q",
        color=alt.condition("datum.share > 0.6", alt.value("white"), alt.value("black")),
    )
    # Two small matrices a row: three (with the axis titles) are wider than a column at 1000 px.
    chart = alt.layer(rect, text, data=cells).properties(width=150, height=130).facet(
        facet=alt.Facet("model:N", sort=models, title=None), columns=2
    )
    st.altair_chart(chart)


def _participant_spread(folder: data.EvalFolder, models: list[str]) -> None:
    st.subheader("Scores per participant")
    scores = folder.get("participants")
    if scores is None:
        st.info(f"No per-participant scores (`participant_scores.csv`: {folder.problems.get('participant_scores.csv', 'missing')}).")
        return
    metrics = [m for m in data.PARTICIPANT_METRICS if m in scores.columns]
    if not metrics:
        st.warning("`participant_scores.csv` has none of the columns " + ", ".join(data.PARTICIPANT_METRICS) + ".")
        return
    metric = st.selectbox("Score", metrics, key="pp_metric", format_func=plain_header)
    part = scores[["model", "fold", "pcode", "n", metric]].dropna(subset=[metric])
    st.caption(
        f"Each point is one participant in the fold where they were tested ({part['pcode'].nunique()} participants). "
        "People differ more than folds do."
    )
    if part.empty:
        st.info(f"No participant has a {metric} (ROC AUC needs both classes in a participant's answers).")
        return
    y = alt.Y(f"{metric}:Q", title=plain_header(metric))
    x = alt.X("model:N", sort=models, title=None)
    box = alt.Chart(part).mark_boxplot(extent="min-max", opacity=0.5).encode(x=x, y=y)
    points = alt.Chart(part).mark_circle(size=40, opacity=0.7).encode(
        x=x, y=y, color=alt.Color("model:N", sort=models, legend=None), tooltip=[alt.Tooltip("pcode:N", title="participant"), "fold", alt.Tooltip("n:Q", title="answers"), alt.Tooltip(f"{metric}:Q", format=".3f", title=plain_header(metric))]
    )
    st.altair_chart((box + points).properties(height=320), width="stretch")
