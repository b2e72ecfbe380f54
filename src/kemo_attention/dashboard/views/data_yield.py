"""Data page: the release check as heatmaps of data yield (participant x data type, and
participant x day), with the check's problems."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from kemo_attention.dashboard import cache, data
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.dashboard.feature_names import plain_header

ALL_TYPES = "(all types)"
# Problems shown as a table (it wraps, so it fits any window); the rest are in the JSON report.
MAX_PROBLEM_ROWS = 200


def render(cfg: DashboardConfig) -> None:
    st.header("Data")
    report = _report(cfg)
    if report is None:
        return
    try:
        daily = data.daily_frame(report)
    except ValueError as exc:
        st.error(f"Cannot draw the data yield: {exc}")
        return
    _summary(report)
    if daily.empty:
        st.info("The check report has no daily row counts: the release holds no sensor rows.")
    else:
        _type_heatmap(daily)
        _day_heatmap(daily)
    _problems(report)


def _report(cfg: DashboardConfig) -> dict[str, Any] | None:
    if cfg.check is not None:
        if not cfg.check.is_file():
            st.error(f"The check report `{cfg.check}` does not exist (any more).")
            return None
        try:
            report = cache.check_json(cfg.check)
        except ValueError as exc:
            st.error(str(exc))
            return None
        st.caption(f"Check report `{cfg.check}` (release `{report.get('root', '?')}`).")
        return report
    if cfg.release is not None:
        if not cfg.release.is_dir():
            st.error(f"The release folder `{cfg.release}` does not exist (any more).")
            return None
        try:
            report = cache.check_release(cfg.release)
        except Exception as exc:  # DataError when it is not a release; shown, not raised
            st.error(f"Checking `{cfg.release}` failed: {exc}")
            return None
        st.caption(f"Checked release `{cfg.release}` just now (cached until its files change).")
        return report
    st.info(
        "No check report and no release were given. Start the dashboard with `--check FILE` "
        "(from `kemo-attention check RELEASE --json --out FILE`) or `--release DIR`."
    )
    return None


def _summary(report: dict[str, Any]) -> None:
    if report.get("usable") is False:
        st.error("The check says this release cannot be used as it is; see the problems below.")
    summary = report.get("summary") or {}
    numbers = {k: v for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numbers:
        cols = st.columns(min(4, len(numbers)))
        for i, (key, value) in enumerate(list(numbers.items())[:8]):
            cols[i % len(cols)].metric(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else f"{value:.3g}")


def _type_heatmap(daily: pd.DataFrame) -> None:
    st.subheader("Days with data, per participant and data type")
    matrix = data.yield_matrix(daily)
    long = matrix.reset_index().melt(id_vars="pcode", var_name="type", value_name="share")
    st.caption(
        f"{matrix.shape[0]} participants × {matrix.shape[1]} data types. Colour = share of the participant's "
        "days (days with any data) on which that type recorded at least one row; white = never."
    )
    chart = alt.Chart(long).mark_rect().encode(
        x=alt.X("type:N", title="data type", sort=list(matrix.columns), axis=alt.Axis(labelAngle=-45, labelOverlap=False)),
        y=alt.Y("pcode:N", title="participant", axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("share:Q", scale=alt.Scale(domain=[0, 1], scheme="greens"), title="share of days"),
        tooltip=[alt.Tooltip("pcode:N", title="participant"), alt.Tooltip("type:N", title="data type"), alt.Tooltip("share:Q", format=".0%", title="share of days")],
    )
    # A step height: a fixed number of pixels would be shared with the axis labels and can collapse.
    st.altair_chart(chart.properties(height=alt.Step(18), title="data yield"), width="stretch")


def _day_heatmap(daily: pd.DataFrame) -> None:
    st.subheader("Rows per day")
    types = sorted(set(daily["type"]))
    left, right = st.columns(2)
    with left:
        chosen = st.selectbox("Data type", [ALL_TYPES, *types], key="data_type")
    with right:
        axis = st.radio("Days", ["study day", "calendar date"], horizontal=True, key="data_days")
    cells = data.day_matrix(daily, None if chosen == ALL_TYPES else chosen, study_days=axis == "study day")
    cells["log10_rows"] = np.log10(cells["rows"].where(cells["rows"] > 0))
    chart = alt.Chart(cells).mark_rect().encode(
        x=alt.X("day:O", title=axis, sort=list(dict.fromkeys(cells["day"])), axis=alt.Axis(labelAngle=-45 if axis == "calendar date" else 0)),
        y=alt.Y("pcode:N", title="participant", axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("log10_rows:Q", scale=alt.Scale(scheme="viridis"), title="log10 rows"),
        tooltip=[alt.Tooltip("pcode:N", title="participant"), "day", alt.Tooltip("rows:Q", format=",")],
    )
    st.altair_chart(chart.properties(height=alt.Step(18), title=f"rows per day: {chosen}"), width="stretch")
    st.caption("Empty cells: no row that day. A gap of days inside a participant's study is worth a look.")


def _problems(report: dict[str, Any]) -> None:
    participants = report.get("participants") or []
    problems = report.get("problems") or []
    if participants:
        with st.expander(f"Participants ({len(participants)})"):
            st.table(readable_table(_participants_frame(participants)))
    st.subheader("Problems found by the check")
    if not problems:
        st.success("No problems recorded.")
        return
    table = pd.DataFrame.from_records(problems)
    if "count" in table:
        kinds = table.groupby("kind")["count"].sum().sort_values(ascending=False) if "kind" in table else None
        if kinds is not None:
            st.caption("; ".join(f"{str(k).replace('_', ' ')}: {int(v):,}" for k, v in kinds.items()))
    if len(table) > MAX_PROBLEM_ROWS:
        st.caption(f"The first {MAX_PROBLEM_ROWS} of {len(table):,} problem records; all of them are in the check report (JSON).")
    st.table(readable_table(_problems_frame(table.head(MAX_PROBLEM_ROWS))))


def _participants_frame(participants: list[dict[str, Any]]) -> pd.DataFrame:
    """The columns a reader compares across people; kinds of problems as one short text."""
    frame = pd.DataFrame.from_records(participants)
    if "problem_kinds" in frame:
        frame["problem_kinds"] = [
            ", ".join(f"{str(k).replace('_', ' ')} {v}" for k, v in kinds.items()) if isinstance(kinds, dict) else ""
            for kinds in frame["problem_kinds"]
        ]
    if "esm_responses" in frame and "scheduled_responses" in frame:  # one cell: "37 (36 scheduled)"
        frame["esm_responses"] = [
            "" if a != a else (f"{int(a)} ({int(b)} scheduled)" if b == b else f"{int(a)}")
            for a, b in zip(frame["esm_responses"], frame["scheduled_responses"])
        ]
        frame = frame.drop(columns="scheduled_responses")
    if "first_day" in frame and "days" in frame:  # first day + days say it in two short cells
        frame = frame.drop(columns=[c for c in ("first_ms", "last_ms", "last_day") if c in frame])
    return frame


def _problems_frame(problems: pd.DataFrame) -> pd.DataFrame:
    """File and column as one "where" cell; the row is in the message already."""
    frame = problems.copy()
    if "file" in frame:
        column = frame["column"] if "column" in frame else pd.Series([None] * len(frame), index=frame.index)
        frame.insert(0, "where", [f"{f}, column {c}" if isinstance(c, str) and c else str(f) for f, c in zip(frame["file"], column)])
        frame = frame.drop(columns=[c for c in ("file", "column") if c in frame])
    if "message" in frame and "row" in frame:
        frame = frame.drop(columns="row")
    return frame


def readable_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A check-report table for reading: empty columns dropped, epoch-ms columns as UTC times,
    kinds with spaces, plain headers, no index column."""
    out = frame.dropna(axis=1, how="all").copy()
    for column in [c for c in out.columns if str(c).endswith("_ms")]:
        stamps = pd.to_datetime(pd.to_numeric(out[column], errors="coerce"), unit="ms", utc=True)
        out[column] = stamps.dt.strftime("%Y-%m-%d %H:%M UTC").fillna("")
    if "kind" in out:
        out["kind"] = out["kind"].astype(str).str.replace("_", " ")
    for column in out.columns:  # row numbers and counts as integers, missing ones blank
        if out[column].dtype.kind == "f" and out[column].dropna().eq(out[column].dropna().round()).all():
            out[column] = out[column].map(lambda v: "" if v != v else f"{int(v):,}")
    out.columns = [plain_header(c) for c in out.columns]
    return out.set_index(out.columns[0]) if len(out.columns) else out
