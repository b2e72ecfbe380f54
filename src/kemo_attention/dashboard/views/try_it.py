"""Try it page: the exported bundle on one sample, either a scheduled prompt of the release
(features computed live by the online path, ``features_for_prompts``) or an uploaded row."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from kemo_attention.config import DECISION_THRESHOLD, decide, label_name_of, parse_tz_offset
from kemo_attention.dashboard import cache, try_it_inputs
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.feature_names import describe_feature

FROM_RELEASE = "A prompt from the release"
FROM_CSV = "Upload a CSV row"
EXPORT_HINT = (
    "No model bundle was given. Export one from a feature file with\n\n"
    "`kemo-attention export features/attention.pkl --model lgbm --out models/`\n\n"
    "and start the dashboard with `--bundle models/attention-lgbm.pkl` "
    "(`kemo-attention demo` does both on demo data)."
)


def render(cfg: DashboardConfig) -> None:
    st.header("Try it")
    if cfg.bundle is None:
        st.info(EXPORT_HINT)
        return
    if not cfg.bundle.is_file():
        st.error(f"The bundle `{cfg.bundle}` does not exist (any more).\n\n" + EXPORT_HINT)
        return
    try:
        bundle = cache.bundle(cfg.bundle, cfg.bundle_sha256)
    except Exception as exc:  # BundleError says what to do next; anything else is shown too
        st.error(f"Cannot load the bundle `{cfg.bundle}`: {exc}")
        return
    _bundle_caption(bundle)
    # Live features only fit a bundle trained on exactly the columns features_for_prompts makes
    # (a user's own feature file may have other columns).
    raw_ok = bool(bundle.manifest.get("raw_features", True))
    sources = [FROM_RELEASE, FROM_CSV] if cfg.release is not None and raw_ok else [FROM_CSV]
    source = st.radio("Features from", sources, horizontal=True, key="try_source")
    if source == FROM_RELEASE:
        row, answer = _row_from_release(cfg.release, bundle)
    else:
        row, answer = _row_from_csv(bundle), None
        if cfg.release is None:
            st.caption("Start with `--release DIR` to pick a scheduled prompt and compute its features live.")
        elif not raw_ok:
            st.caption("This bundle was trained on columns the live feature path does not compute, so only a CSV row can be scored.")
    if row is not None:
        _predict(bundle, row, answer)


def _bundle_caption(bundle: Any) -> None:
    m = bundle.manifest
    label_name = label_name_of(m)
    bits = [f"model **{m.get('model', '?')}**", f"label **{label_name}**", f"features **{bundle.feature_mode}**",
            f"{len(bundle.feature_names)} features"]
    if m.get("created"):
        bits.append(f"exported {m['created']}")
    scores = m.get("cv_scores") or {}
    if isinstance(scores, dict) and scores.get("f1_macro_mean") is not None:
        bits.append(f"CV macro F1 {scores['f1_macro_mean']:.3f}")
    st.caption(" · ".join(bits) + f" · `{bundle.path}`")


def _label_settings(bundle: Any) -> dict[str, Any]:
    label = bundle.manifest.get("label") or {}
    return label if isinstance(label, dict) else {"name": str(label)}


# --------------------------------------------------------------------------- from the release
def _row_from_release(root: Path, bundle: Any) -> tuple[pd.DataFrame | None, str | None]:
    try:
        layout = cache.release_layout(root)
    except Exception as exc:
        st.error(f"`{root}` is not a usable release: {exc}")
        return None, None
    if layout.esm_path is None:
        st.warning(f"The release `{root}` has no EsmResponse.csv, so there is no prompt schedule to pick from. Upload a CSV row instead.")
        return None, None
    esm = cache.esm(layout.esm_path)
    scheduled = esm[esm["scheduledTime"].notna()]
    pcodes = sorted(set(scheduled["pcode"].astype(str)) & set(layout.participants))
    if not pcodes:
        st.warning("No participant of the release has both sensor files and scheduled prompts.")
        return None, None
    settings = _label_settings(bundle)
    tz = parse_tz_offset(bundle.feature_settings().tz_offset)
    left, right = st.columns(2)
    with left:
        pcode = st.selectbox("Participant", pcodes, key="try_pcode")
    prompts = try_it_inputs.scheduled_prompts(esm, pcode)
    name = label_name_of({"label": settings})
    times = pd.to_datetime(prompts["scheduledTime"].astype("int64"), unit="ms", utc=True).dt.tz_convert(tz)
    answers = prompts[name] if name in prompts else pd.Series([None] * len(prompts))

    def fmt(i: int) -> str:
        value = answers.iloc[i]
        said = f"answered {name} {int(value):+d}" if pd.notna(value) else "no answer"
        return f"{times.iloc[i]:%a %Y-%m-%d %H:%M} ({said})"

    with right:
        index = st.selectbox("Prompt time", list(range(len(prompts))), format_func=fmt, key="try_prompt")
    prompt_ms = int(prompts["scheduledTime"].iloc[index])
    past = try_it_inputs.past_labels(prompts, prompt_ms, settings)
    userinfo = _userinfo(layout, pcode)
    try:
        tables = cache.participant_tables(root, pcode)
        row = _features(str(root), pcode, prompt_ms, tuple(past), tuple(sorted((userinfo or {}).items())),
                        bundle.feature_set, tables, bundle)
    except Exception as exc:
        st.error(f"Computing features for {pcode} at {times.iloc[index]:%Y-%m-%d %H:%M} failed: {exc}")
        return None, None
    value = answers.iloc[index]
    y = try_it_inputs.label_of(value, settings, answers)
    answer = None if y is None else f"{pcode} answered {name} {int(value):+d} at this prompt: label {y}."
    st.caption(
        f"Features from sensor data up to 1 ms before the prompt, computed now by the online path; "
        f"{len(past)} earlier answers feed the label-history features."
    )
    return row, answer


def _userinfo(layout: Any, pcode: str) -> dict[str, Any] | None:
    if layout.userinfo_path is None:
        st.caption("The release has no UserInfo.csv: participant features (PIF#...) are left at 0.")
        return None
    info = cache.userinfo(layout.userinfo_path)
    rows = info[info["pcode"].astype(str) == pcode]
    if rows.empty:
        st.caption(f"UserInfo.csv has no row for {pcode}: participant features (PIF#...) are left at 0.")
        return None
    # The row without its key, as extraction passes it.
    return {k: (None if pd.isna(v) else v) for k, v in rows.iloc[0].to_dict().items() if k != "pcode"}


@st.cache_data(show_spinner="Computing features at the prompt time ...", max_entries=32)
def _features(root: str, pcode: str, prompt_ms: int, past: tuple, userinfo_items: tuple, feature_set: str,
              _tables: dict, _bundle: Any) -> pd.DataFrame:
    # _tables and _bundle are not hashed (leading underscore); root, pcode, the prompt and the
    # feature set identify the result (a reference row lacks a physio bundle's columns).
    from kemo_attention.features.assemble import features_for_prompts

    settings = _bundle.feature_settings()
    frame = features_for_prompts(
        _tables,
        np.array([prompt_ms], dtype=np.int64),
        userinfo=dict(userinfo_items) or None,
        past_labels=list(past),
        settings=settings,
    )
    return frame[list(_bundle.feature_names)]


# --------------------------------------------------------------------------- from a CSV
def _row_from_csv(bundle: Any) -> pd.DataFrame | None:
    names = list(bundle.feature_names)
    st.caption(
        f"A CSV with a header of feature names and one row of values ({len(names)} features; "
        "missing ones take the training median / mode recorded in the bundle)."
    )
    def template() -> str:  # built only when clicked: thousands of columns
        return pd.DataFrame([bundle.manifest.get("feature_defaults") or {}], columns=names).to_csv(index=False)

    st.download_button("Download a template row (training medians)", template, "features-template.csv", "text/csv")
    uploaded = st.file_uploader("Feature row (CSV)", type=["csv"], key="try_csv")
    if uploaded is None:
        return None
    try:
        frame = pd.read_csv(io.BytesIO(uploaded.getvalue()))
    except Exception as exc:
        st.error(f"`{uploaded.name}` is not a readable CSV: {exc}")
        return None
    if frame.empty:
        st.error(f"`{uploaded.name}` has a header but no row of values.")
        return None
    index = 0
    if len(frame) > 1:
        index = int(st.number_input(f"`{uploaded.name}` has {len(frame)} rows; use row", 1, len(frame), 1, key="try_row")) - 1
    try:
        row, filled, ignored = try_it_inputs.align_feature_row(
            frame.iloc[[index]], names, bundle.manifest.get("feature_kinds"), bundle.manifest.get("feature_defaults")
        )
    except ValueError as exc:
        st.error(f"`{uploaded.name}` row {index + 1}: {exc}")
        return None
    if len(filled) == len(names):
        st.warning(f"`{uploaded.name}` has none of the bundle's features; every value is the training default.")
    elif filled:
        st.warning(f"{len(filled)} of {len(names)} features were missing or blank and take the training default (e.g. {', '.join(filled[:3])}).")
    if ignored:
        st.caption(f"{len(ignored)} column(s) the model does not use were ignored (e.g. {', '.join(ignored[:3])}).")
    return row


# --------------------------------------------------------------------------- prediction
def _predict(bundle: Any, row: pd.DataFrame, answer: str | None) -> None:
    settings = _label_settings(bundle)
    name = label_name_of({"label": settings})
    try:
        proba = float(np.asarray(bundle.predict_proba(row)).ravel()[0])
    except Exception as exc:
        st.error(f"The model could not score this row: {exc}")
        return
    st.subheader("Prediction")
    st.metric(f"P({name} = 1)", f"{proba:.3f}")
    st.progress(min(max(proba, 0.0), 1.0))
    st.write(f"Predicted label: **{decide(proba)}** (threshold {DECISION_THRESHOLD})" + (f". {answer}" if answer else ""))
    try:
        pushes = bundle.explain(row, top=10)
    except Exception as exc:
        st.warning(f"No explanation for this row: {exc}")
        return
    if not pushes:
        st.info("No feature pushed this row: every feature the model uses is at its training default.")
        return
    table = pd.DataFrame(pushes, columns=["feature", "push"])
    table["in plain words"] = [describe_feature(f) for f in table["feature"]]
    table["value"] = [_fmt_value(row[f].iloc[0]) if f in row else "" for f in table["feature"]]
    table["direction"] = np.where(table["push"] >= 0, "towards 1", "towards 0")
    # The whole width of the page and no label limit: feature codes are long
    # (APP_CAT#DUR=LIBRARIES_AND_DEMO#M30) and must be read whole.
    chart = alt.Chart(table).mark_bar().encode(
        x=alt.X("push:Q", title="push on the prediction"),
        y=alt.Y("feature:N", sort=list(table["feature"]), title=None, axis=alt.Axis(labelLimit=0)),
        color=alt.Color("direction:N", scale=alt.Scale(domain=["towards 1", "towards 0"], range=["#2ca02c", "#d62728"]),
                        title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["feature", "in plain words", "value", alt.Tooltip("push:Q", format=".4f")],
    )
    st.altair_chart(chart.properties(height=alt.Step(24), title="Features that pushed it most"), width="stretch")
    shown = table[["feature", "in plain words", "value", "push"]].assign(push=table["push"].map(lambda v: f"{v:+.4f}"))
    st.table(shown.set_index("feature"))
    st.caption(
        "Push = P(this row) - P(this row with that feature at its training median / mode): "
        "positive pushed towards 1. Only features the model's selection kept can push."
    )


def _fmt_value(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
