"""Reading what an AppTest run shows: chart specs, chart data, visible text."""

from __future__ import annotations


def chart_specs(at) -> list[dict]:
    """The Vega-Lite specs of every chart on the page."""
    import json

    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def chart_data(at, index: int) -> list:
    """The data frames (Arrow) behind chart ``index``."""
    import pyarrow as pa

    el = at.get("vega_lite_chart")[index]
    return [pa.ipc.open_stream(d.data.data).read_pandas() for d in el.proto.datasets]


def texts(at) -> str:
    """All visible text of the run (headings, markdown, captions, alerts), one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(el.value) for el in getattr(at, kind)]
    return "\n".join(parts)
