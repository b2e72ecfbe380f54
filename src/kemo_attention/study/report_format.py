"""The report as a list of blocks, and its two renderings: self-contained HTML and Markdown.

The content is built once (``report.py``) from blocks (headings, paragraphs, tables,
images, lists, notes); ``render_html`` and ``render_markdown`` only lay them out, so the two
files always say the same. Numbers are formatted here, one way for the whole report (and
the dashboard's Study page): 3 decimals, p values below 0.001 as "<0.001".

Inline text may hold two marks, kept in Markdown and turned into tags in HTML:
```code``` and ``**bold**``. Everything else is escaped.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field

import pandas as pd

DIGITS = 3


# ---------------------------------------------------------------------------- numbers
def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_number(value, digits: int = DIGITS) -> str:
    """``0.654``; "n/a" for a missing value."""
    return "n/a" if _missing(value) else f"{float(value):.{digits}f}"


def fmt_signed(value, digits: int = DIGITS) -> str:
    """``+0.030`` / ``-0.012``: a difference, its sign always shown."""
    return "n/a" if _missing(value) else f"{float(value):+.{digits}f}"


def fmt_p(p) -> str:
    """A p value: ``<0.001`` below 0.001, else 3 decimals."""
    if _missing(p):
        return "n/a"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def p_phrase(p) -> str:
    """A p value in a sentence: "p < 0.001", "p = 0.031"."""
    text = fmt_p(p)
    return "p < 0.001" if text == "<0.001" else f"p = {text}"


def fmt_interval(low, high, digits: int = DIGITS, signed: bool = False) -> str:
    """``[0.621, 0.688]``."""
    if _missing(low) or _missing(high):
        return "[n/a]"
    number = fmt_signed if signed else fmt_number
    return f"[{number(low, digits)}, {number(high, digits)}]"


# ---------------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Cell:
    """A table cell: one or more lines (a value above its interval), optionally bold."""

    lines: tuple[str, ...]
    bold: bool = False

    @classmethod
    def of(cls, *lines: str, bold: bool = False) -> Cell:
        return cls(tuple(str(x) for x in lines if x != ""), bold)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Note:
    """A remark that stands out: something absent, or a warning about the run."""

    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    table_id: str
    css_class: str = "results"
    caption: str | None = None


@dataclass(frozen=True)
class Image:
    """A PNG: embedded as a data URI in HTML, linked by ``relative_path`` in Markdown."""

    png: bytes = field(repr=False)
    relative_path: str
    alt: str


Block = Heading | Paragraph | Note | Bullets | Table | Image


def table_frame(table: Table) -> pd.DataFrame:
    """A table as text for ``st.table``: first column as the index, a cell's lines joined by spaces."""
    frame = pd.DataFrame([[" ".join(c.lines) for c in row[1:]] for row in table.rows], columns=list(table.columns[1:]))
    frame.index = pd.Index([" ".join(row[0].lines) for row in table.rows], name=table.columns[0])
    return frame


def slug(*parts: str) -> str:
    """An HTML id from parts: lower case, anything else than letters and digits as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


# ---------------------------------------------------------------------------- HTML
# One column of at most 960 px: fits a 1000 px window with its scroll bar. Wide tables scroll
# inside their own box; long words (hashes, paths) break instead of widening the page.
CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:0;background:#fff}
main{max-width:960px;margin:0 auto;padding:16px 20px 48px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:21px;margin:32px 0 8px;border-bottom:2px solid #d8dee8;padding-bottom:4px}
h3{font-size:17px;margin:22px 0 6px}h4{font-size:15px;margin:16px 0 4px;color:#39465a}
p,li{max-width:100%;overflow-wrap:anywhere}
code{font:13px/1.3 ui-monospace,Menlo,Consolas,monospace;background:#f1f3f7;padding:0 3px;border-radius:3px;overflow-wrap:anywhere}
.note{background:#fff6dc;border-left:4px solid #e0a800;padding:6px 10px;margin:8px 0}
.table-box{max-width:100%;overflow-x:auto;margin:6px 0 10px}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d8dee8;padding:4px 7px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eef1f6;font-weight:600}
table:not(.facts) td.num{text-align:right;white-space:nowrap}
td .sub{display:block;color:#566173;font-size:12px}
td.bold{font-weight:700}td.bold .sub{font-weight:600}
caption{caption-side:bottom;text-align:left;font-size:12px;color:#566173;padding-top:4px}
figure{margin:8px 0 14px}figure img{max-width:100%;height:auto;border:1px solid #e3e7ee}
figcaption{font-size:12px;color:#566173}
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text, quote=True)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)


def _is_numeric(line: str) -> bool:
    return bool(re.fullmatch(r"[<>+\-]?\d+(\.\d+)?", line))


def _cell_html(cell: Cell, tag: str = "td") -> str:
    classes = []
    if cell.bold:
        classes.append("bold")
    if cell.lines and _is_numeric(cell.lines[0]):
        classes.append("num")
    first, *rest = cell.lines or ("",)
    inner = _inline_html(first) + "".join(f'<span class="sub">{_inline_html(line)}</span>' for line in rest)
    if cell.bold:
        inner = f"<strong>{inner}</strong>"
    attributes = f' class="{" ".join(classes)}"' if classes else ""
    return f"<{tag}{attributes}>{inner}</{tag}>"


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{_inline_html(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        first, *rest = row
        body.append("<tr>" + _cell_html(first, "th").replace("<th", '<th scope="row"', 1) + "".join(_cell_html(c) for c in rest) + "</tr>")
    caption = f"<caption>{_inline_html(table.caption)}</caption>" if table.caption else ""
    return (f'<div class="table-box"><table id="{html.escape(table.table_id)}" class="{html.escape(table.css_class)}">'
            f"{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def render_html(title: str, blocks: list[Block]) -> str:
    """One HTML file: inline CSS, images as base64 data URIs, no script, no external URL."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            anchor = f' id="{html.escape(block.anchor)}"' if block.anchor else ""
            parts.append(f"<h{block.level}{anchor}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Note):
            parts.append(f'<p class="note">{_inline_html(block.text)}</p>')
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{_inline_html(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            parts.append(_table_html(block))
        elif isinstance(block, Image):
            data = base64.b64encode(block.png).decode("ascii")
            parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
                         f"<figcaption>{_inline_html(block.alt)} (<code>{html.escape(block.relative_path)}</code>)</figcaption></figure>")
        else:  # pragma: no cover - the union above is closed
            raise TypeError(f"unknown block {type(block).__name__}")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(parts)
        + "\n</main></body></html>\n"
    )


# ---------------------------------------------------------------------------- Markdown
def _md_cell(cell: Cell) -> str:
    text = " ".join(cell.lines).replace("|", "\\|")
    return f"**{text}**" if cell.bold and text else text


def render_markdown(blocks: list[Block]) -> str:
    """The same blocks as Markdown; images as relative links (to ``plots/...``)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Note):
            parts.append(f"> {block.text}")
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(c.replace("|", "\\|") for c in block.columns) + " |",
                     "|" + "|".join("---" for _ in block.columns) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            if block.caption:
                lines += ["", block.caption]
            parts.append("\n".join(lines))
        elif isinstance(block, Image):
            parts.append(f"![{block.alt}]({block.relative_path})")
        else:  # pragma: no cover
            raise TypeError(f"unknown block {type(block).__name__}")
    return "\n\n".join(parts) + "\n"
