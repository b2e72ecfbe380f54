"""Random valid CSV content (numbers, Korean text, commas, quotes, bools in any spelling)
written with the csv module reads back exactly, stable-sorted by timestamp."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from release_writer import header_of, write_csv

from kemo_attention.release.read import read_table
from kemo_attention.release.schema import DATA_TYPES, EPOCH_MS_MAX, EPOCH_MS_MIN

BOOLS = {"True": True, "False": False, "true": True, "false": False, "1": True, "0": False}
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("카카오톡설정메시지이음 ,\"'\n;ミリシタ")),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    min_size=1,
    max_size=12,
)


def cell(kind):
    """(text written to the file, value expected back)."""
    if kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False).map(lambda v: (repr(v), v))
    if kind == "int":
        return st.integers(-(2**62), 2**62).map(lambda v: (str(v), v))
    if kind == "bool":
        return st.sampled_from(sorted(BOOLS)).map(lambda s: (s, BOOLS[s]))
    return TEXT.map(lambda s: (s, s))


@st.composite
def table(draw):
    dt = DATA_TYPES[draw(st.sampled_from(sorted(DATA_TYPES)))]
    legacy = draw(st.booleans())
    n = draw(st.integers(1, 12))
    times = draw(st.lists(st.integers(EPOCH_MS_MIN, EPOCH_MS_MAX), min_size=n, max_size=n))
    rows = []
    for t in times:
        values = [draw(st.one_of(st.none(), cell(c.kind))) for c in dt.columns]
        rows.append((t, values))
    return dt, legacy, rows


def _is_header_like(dt, header, values) -> bool:
    # a row whose text cells spell the header is dropped by design; keep such draws out
    same = sum(1 for h, v in zip(header[1:], values) if v is not None and v[0].strip().lower() == h.lower())
    return same * 2 > len(header)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table())
def test_random_valid_content_round_trips(spec):
    dt, legacy, rows = spec
    header = header_of(dt, legacy)
    rows = [(t, v) for t, v in rows if not _is_header_like(dt, header, v)]
    if not rows:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / dt.file_name, header, [[t, *[None if v is None else v[0] for v in vals]] for t, vals in rows])
        frame, problems = read_table(path, dt)
    expected = sorted(rows, key=lambda r: r[0])  # Python's sort is stable: file order among equal times
    assert frame["timestamp"].to_list() == [t for t, _ in expected]
    for j, col in enumerate(dt.columns):
        assert frame[col.name].to_list() == [None if v[j] is None else v[j][1] for _, v in expected], col.name
    assert not {p.kind for p in problems} & {"unparsable_value", "header_row", "blank_row", "unknown_column", "missing_column"}
