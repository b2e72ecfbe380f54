"""The records validator of the API schemas: a valid batch passes as sent (checked in one
pass), and each kind of bad record is named by its index and key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kemo_attention.serve.schemas import RecordsBatch

T0 = 1_557_278_760_000


def good(n: int) -> list[dict]:
    return [{"timestamp": T0 + i, "bpm": 60.5 + i, "note": "x", "ok": True, "gap": None} for i in range(n)]


def test_a_valid_batch_passes_unchanged():
    rows = good(500)
    batch = RecordsBatch.model_validate({"records": {"HR": rows}})
    assert batch.records["HR"] == rows


@pytest.mark.parametrize("bad, words", [
    (float("nan"), ["record 3, bpm", "expected a finite number; got nan"]),
    (float("-inf"), ["record 3, bpm", "expected a finite number; got -inf"]),
    ([1, 2], ["record 3, 'bpm'", "expected a JSON scalar"]),
    ({"a": 1}, ["record 3, 'bpm'", "expected a JSON scalar", "object"]),
])
def test_a_bad_value_is_named_by_record_and_key(bad, words):
    rows = good(5)
    rows[3]["bpm"] = bad
    with pytest.raises(ValidationError) as err:
        RecordsBatch.model_validate({"records": {"HR": rows}})
    for word in words:
        assert word in str(err.value), str(err.value)


def test_a_record_that_is_not_an_object_is_named():
    rows = good(3) + [[T0, 60]]
    with pytest.raises(ValidationError, match=r"record 3: expected an object of column: value; got a list"):
        RecordsBatch.model_validate({"records": {"HR": rows}})
