"""Read an HTML page back the way a reader sees it: its tables (by id) and its images.

A small ``html.parser`` walker, so the tests check the rendered page and not the code's
intermediate blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class ParsedCell:
    text: str
    bold: bool


@dataclass
class ParsedPage:
    tables: dict[str, list[list[ParsedCell]]] = field(default_factory=dict)  # id -> rows (header row first)
    table_classes: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)  # src of every <img>
    tags: set[str] = field(default_factory=set)
    attribute_urls: list[str] = field(default_factory=list)  # every href / src value
    text: str = ""


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self.table_id: str | None = None
        self.row: list[ParsedCell] | None = None
        self.cell: list[str] | None = None
        self.cell_bold = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.page.tags.add(tag)
        for name in ("href", "src"):
            if name in attributes:
                self.page.attribute_urls.append(attributes[name] or "")
        if tag == "img":
            self.page.images.append(attributes.get("src") or "")
        elif tag == "table":
            self.table_id = attributes.get("id") or f"table-{len(self.page.tables)}"
            self.page.tables[self.table_id] = []
            self.page.table_classes[self.table_id] = attributes.get("class") or ""
        elif tag == "tr" and self.table_id is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell, self.cell_bold = [], False
        elif tag == "strong" and self.cell is not None:
            self.cell_bold = True
        elif tag in ("br", "span") and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(ParsedCell(" ".join("".join(self.cell).split()), self.cell_bold))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.table_id is not None:
            self.page.tables[self.table_id].append(self.row)
            self.row = None
        elif tag == "table":
            self.table_id = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


def parse_page(text: str) -> ParsedPage:
    walker = _Walker()
    walker.feed(text)
    walker.close()
    walker.page.text = " ".join("".join(walker.text).split())
    return walker.page


def table_by_row(rows: list[list[ParsedCell]]) -> dict[str, dict[str, ParsedCell]]:
    """Header row -> {first cell of a row: {column: cell}}."""
    header = [c.text for c in rows[0]]
    return {row[0].text: dict(zip(header, row)) for row in rows[1:]}
