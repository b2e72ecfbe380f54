"""docs/features.md and the dashboard's plain words come from one catalogue."""

import re
from pathlib import Path

import pytest

from kemo_attention.dashboard import feature_docs
from kemo_attention.dashboard.feature_names import CATEGORICAL_STREAMS, STREAM_LABELS, WINDOW_LABELS, describe_feature

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_committed_page_equals_the_generated_one():
    text = DOC.read_text(encoding="utf-8")
    assert feature_docs.render_page(text) == text, "docs/features.md is stale: run `python -m kemo_attention.dashboard.feature_docs`"


def test_catalogue_covers_exactly_the_streams_of_the_feature_code():
    from kemo_attention.features.streams import STREAM_SPECS

    assert set(STREAM_LABELS) == {s.name for s in STREAM_SPECS}
    assert CATEGORICAL_STREAMS == {s.name for s in STREAM_SPECS if s.kind == "cat"}
    assert set(feature_docs.STREAM_VALUES) == set(STREAM_LABELS)


def test_every_stream_row_of_the_page_uses_the_dashboard_words():
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+?) \| (?:numeric|categorical) \|", text, flags=re.M))
    assert len(rows) == 52  # 38 numeric + 14 categorical streams
    for stream, words in rows.items():
        # the dashboard's label of a feature of that stream starts with the same words
        assert describe_feature(f"{stream}#VAL").startswith(words + " · ")


def test_counts_on_the_page_are_the_feature_code_s():
    from kemo_attention.features.layout import feature_columns, is_bool_feature

    text = DOC.read_text(encoding="utf-8")
    columns = feature_columns()
    n_bool = sum(map(is_bool_feature, columns))
    # the totals stated by the spec of the reference feature set
    assert (len(columns), n_bool) == (3356, 83)
    assert "| **all** (83 true/false, 3,273 numeric) | **3,356** |" in text


def test_every_window_of_the_dashboard_is_on_the_page():
    text = DOC.read_text(encoding="utf-8")
    for code, words in WINDOW_LABELS.items():
        assert f"| `{code}` |" in text and f"| {words} |" in text


def test_a_changed_label_makes_the_page_stale(monkeypatch):
    text = DOC.read_text(encoding="utf-8")
    monkeypatch.setitem(STREAM_LABELS, "HRT", "pulse")
    assert feature_docs.render_page(text) != text


def test_a_page_without_a_block_is_refused():
    with pytest.raises(ValueError, match="lacks the generated block"):
        feature_docs.render_page("# nothing generated here\n")


def test_check_mode_exits_1_on_a_stale_page(tmp_path, monkeypatch):
    stale = tmp_path / "features.md"
    stale.write_text(DOC.read_text(encoding="utf-8").replace("| heart rate |", "| pulse |"))
    monkeypatch.setattr(feature_docs, "DOC_PATH", stale)
    assert feature_docs.main(["--check"]) == 1
    assert feature_docs.main([]) == 0  # rewrites it
    assert feature_docs.main(["--check"]) == 0
