"""Live page: one participant of the live store (``kemo-attention serve --store``): the
predictions the server gave over time beside the answers the person gave, and what data
the store held for the last prediction."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from kemo_attention.config import DEFAULT_TZ_OFFSET
from kemo_attention.dashboard.config import DashboardConfig

STORE_HINT = (
    "Start the dashboard with `--store PATH`, the SQLite file `kemo-attention serve BUNDLE --store PATH` keeps "
    "(default `kemo-live.sqlite`); `kemo-attention replay RELEASE --url ...` fills one from a release."
)
LABEL_ITEM = "attention"


def render(cfg: DashboardConfig) -> None:
    st.header("Live")
    if cfg.store is None:
        st.info("No live store was given. " + STORE_HINT)
        return
    if not cfg.store.is_file():
        st.error(f"The live store `{cfg.store}` does not exist (any more). " + STORE_HINT)
        return
    try:
        view = read_store(cfg.store, pcode=st.session_state.get("live_pcode"))
    except Exception as exc:  # a file that is not a store: say so, do not crash the page
        st.error(f"Cannot read the live store `{cfg.store}`: {type(exc).__name__}: {exc}")
        return
    if not view["participants"]:
        st.info(f"The live store `{cfg.store}` holds no participant yet: send data with `kemo-attention replay` or a device.")
        return
    pcode = st.selectbox("Participant", view["participants"], key="live_pcode")
    if pcode != view["pcode"]:  # the first run picks the first participant
        view = read_store(cfg.store, pcode=pcode)
    predictions, answers, types = view["predictions"], view["answers"], view["types"]
    st.subheader(f"Participant {pcode}")
    _headline(predictions, answers, types)
    if predictions.empty:
        st.info(f"No prediction was served for {pcode} yet: ask `GET /participants/{pcode}/prediction`.")
    else:
        _chart(predictions, answers)
        st.dataframe(_prediction_table(predictions, answers), hide_index=True, width="stretch")
    _last_seen(predictions, types, view.get("streams"))


# ------------------------------------------------------------------ reading the store
def read_store(path: Path, pcode: str | None = None) -> dict:
    """The store's participants and one participant's (``pcode``, default the first)
    predictions, answers and stored data, as frames; times are epoch ms and local text."""
    from kemo_attention.live.store import open_store

    store = open_store(path)
    try:
        codes = sorted(store.participants(), key=_natural)
        codes = [c if isinstance(c, str) else str(c.get("pcode")) for c in codes] if codes else []
        if not codes:
            return {"participants": [], "pcode": None}
        chosen = pcode if pcode in codes else codes[0]
        summary = store.summary(chosen) or {}
        served = store.predictions(chosen)
        given = store.answers(chosen)
    finally:
        store.close()
    predictions = pd.DataFrame(list(served), columns=None)
    if predictions.empty:
        predictions = pd.DataFrame(columns=["at", "probability", "label", "threshold", "model_sha256", "served_at"])
    else:
        predictions = predictions.sort_values("at", kind="stable").reset_index(drop=True)
    answers = pd.DataFrame(list(given))
    types = _types_frame(summary.get("types") or {})
    last_streams = predictions["streams"].iloc[-1] if "streams" in predictions and len(predictions) else None
    return {"participants": codes, "pcode": chosen, "predictions": predictions, "answers": answers, "types": types,
            "streams": last_streams}


def _natural(code) -> tuple:
    from kemo_attention.release.layout import pcode_sort_key

    return pcode_sort_key(code if isinstance(code, str) else str(code.get("pcode")))


def _types_frame(types: dict) -> pd.DataFrame:
    rows = [{"data type": name, "rows": int(info.get("rows") or 0), "first": info.get("first"), "last": info.get("last")}
            for name, info in sorted(types.items())]
    return pd.DataFrame(rows, columns=["data type", "rows", "first", "last"])


def local_time(ms) -> pd.Series:
    from kemo_attention.config import parse_tz_offset

    values = pd.to_datetime(pd.Series(ms, dtype="float64"), unit="ms", utc=True)
    return values.dt.tz_convert(parse_tz_offset(DEFAULT_TZ_OFFSET))


def answer_for_prompts(predictions: pd.DataFrame, answers: pd.DataFrame) -> pd.Series:
    """The label item's answer given to the prompt at each prediction's time (NaN: none):
    an answer belongs to the prompt whose scheduled time it carries."""
    if answers.empty or "scheduledTime" not in answers or LABEL_ITEM not in answers:
        return pd.Series(np.nan, index=predictions.index, dtype="float64")
    given = answers.dropna(subset=["scheduledTime"]).drop_duplicates("scheduledTime", keep="last")
    lookup = dict(zip(given["scheduledTime"].astype("int64"), pd.to_numeric(given[LABEL_ITEM], errors="coerce")))
    return predictions["at"].astype("int64").map(lookup).astype("float64")


# ------------------------------------------------------------------ the page's parts
def _headline(predictions: pd.DataFrame, answers: pd.DataFrame, types: pd.DataFrame) -> None:
    cols = st.columns(4)
    cols[0].metric("predictions served", f"{len(predictions):,}")
    cols[1].metric("answers stored", f"{len(answers):,}")
    cols[2].metric("rows stored", f"{int(types['rows'].sum()):,}" if not types.empty else "0")
    if predictions.empty:
        cols[3].metric("last probability", "-")
    else:
        last = predictions.iloc[-1]
        cols[3].metric("last probability", f"{float(last['probability']):.3f}",
                       help=f"label {int(last['label'])} at {local_time([last['at']]).iloc[0]:%Y-%m-%d %H:%M}")


def _chart(predictions: pd.DataFrame, answers: pd.DataFrame) -> None:
    frame = pd.DataFrame({
        "time": local_time(predictions["at"]).dt.tz_localize(None),
        "probability": predictions["probability"].astype(float),
        "answer": answer_for_prompts(predictions, answers),
    })
    threshold = float(predictions["threshold"].iloc[-1]) if "threshold" in predictions and len(predictions) else 0.5
    base = alt.Chart(frame).encode(x=alt.X("time:T", title="prompt time (local)"))
    proba = base.mark_line(point=True).encode(
        y=alt.Y("probability:Q", title="P(focused)", scale=alt.Scale(domain=[0, 1])),
        tooltip=["time:T", alt.Tooltip("probability:Q", format=".3f"), "answer:Q"],
    )
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(strokeDash=[4, 4]).encode(y="threshold:Q")
    given = base.transform_filter("isValid(datum.answer)").mark_point(shape="diamond", filled=True, size=80, color="#d62728").encode(
        y=alt.Y("answer:Q", title=f"{LABEL_ITEM} answer (-3..+3)", scale=alt.Scale(domain=[-3, 3])),
        tooltip=["time:T", "answer:Q"],
    )
    chart = alt.layer(proba + rule, given).resolve_scale(y="independent").properties(height=320)
    st.altair_chart(chart, width="stretch")
    st.caption(
        f"Line: the probability served at each prompt (dashed: the threshold {threshold:g}). "
        f"Red diamonds: the {LABEL_ITEM} answer the person gave to that prompt (right axis)."
    )


def _prediction_table(predictions: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({
        "prompt time": local_time(predictions["at"]).map(lambda t: f"{t:%Y-%m-%d %H:%M:%S}"),
        "probability": predictions["probability"].astype(float).round(4),
        "label": predictions["label"].astype("Int64"),
        "answer": answer_for_prompts(predictions, answers),
    })
    if "model_sha256" in predictions:
        table["model"] = predictions["model_sha256"].astype(str).str[:12]
    return table.iloc[::-1].reset_index(drop=True)  # newest first


def _last_seen(predictions: pd.DataFrame, types: pd.DataFrame, streams) -> None:
    st.subheader("What the last prediction saw")
    at = int(predictions["at"].iloc[-1]) if not predictions.empty else None
    if streams:
        rows = []
        for name, info in sorted(streams.items()):
            info = info if isinstance(info, dict) else {}
            last = info.get("last_sample")
            rows.append({
                "stream": name,
                "samples in the hour before": info.get("samples_last_hour"),
                "last sample": "-" if last is None else f"{local_time([last]).iloc[0]:%Y-%m-%d %H:%M:%S}",
                "minutes before the prompt": None if last is None or at is None else round((at - last) / 60_000, 1),
            })
        st.caption(
            f"Per stream the model uses, as the server saw it for the prediction at "
            f"{local_time([at]).iloc[0]:%Y-%m-%d %H:%M:%S}: samples in the hour before, and the last sample."
        )
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        warnings = predictions["warnings"].iloc[-1] if "warnings" in predictions else None
        for warning in warnings if isinstance(warnings, (list, tuple)) else []:
            st.warning(warning)
    st.subheader("What the store keeps now")
    if types.empty:
        st.info("The store holds no sensor data for this participant.")
        return
    table = types.copy()
    table["first"] = local_time(table["first"]).map(lambda t: "-" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M:%S}")
    table["last"] = local_time(types["last"]).map(lambda t: "-" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M:%S}")
    if at is not None:
        age = (at - pd.to_numeric(types["last"], errors="coerce")) / 60_000
        table["minutes before the last prediction"] = age.round(1)
        st.caption(
            f"Data the store keeps per type, against the last prediction at {local_time([at]).iloc[0]:%Y-%m-%d %H:%M:%S}: "
            "a negative age means the type already has data after that prompt."
        )
    st.dataframe(table, hide_index=True, width="stretch")
