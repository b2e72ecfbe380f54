"""Hypothesis against the real server: random valid batches never get a 5xx (and are stored
as sent, minus duplicates); random invalid ones get a 4xx and store nothing."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_557_278_760_000
_codes = itertools.count(500)

times = st.integers(min_value=T0, max_value=T0 + 8 * 3_600_000)
hr_row = st.fixed_dictionaries({"timestamp": times, "bpm": st.one_of(st.none(), st.floats(20, 250), st.integers(20, 250))})
acc_row = st.fixed_dictionaries({"timestamp": times, "x": st.floats(-8, 8), "y": st.floats(-8, 8), "z": st.floats(-8, 8)})
screen_row = st.fixed_dictionaries({"timestamp": times, "type": st.sampled_from(["ON", "OFF", "UNLOCK", "weird"])})
# every column of the type (a record without one is refused: /predict/raw's rule too); null where unknown
call_row = st.fixed_dictionaries({
    "timestamp": times, "number": st.one_of(st.none(), st.sampled_from(["010-1234", "anon"])),
    "contact": st.one_of(st.none(), st.just("friend")), "timesContacted": st.one_of(st.none(), st.integers(0, 50)),
    "isPinned": st.one_of(st.none(), st.booleans()), "isStarred": st.one_of(st.none(), st.booleans()),
    "duration": st.integers(0, 7_200_000),
})
valid_batch = st.fixed_dictionaries({}, optional={
    "HR": st.lists(hr_row, max_size=30), "Acceleration": st.lists(acc_row, max_size=30),
    "ScreenEvent": st.lists(screen_row, max_size=10), "CallEvent": st.lists(call_row, max_size=5),
})
bad_value = st.one_of(st.text(min_size=1, alphabet="abcxyz"), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
bad_time = st.one_of(st.integers(0, 10**9), st.text(min_size=1, alphabet="abc"), st.none(), st.integers(5 * 10**12, 10**14))


@st.composite
def invalid_batch(draw):
    batch = draw(valid_batch)
    kind = draw(st.sampled_from(["value", "time", "type", "shape"]))
    if kind == "value":
        batch["HR"] = draw(st.lists(hr_row, max_size=5)) + [{"timestamp": T0, "bpm": draw(bad_value)}]
    elif kind == "time":
        batch["HR"] = draw(st.lists(hr_row, max_size=5)) + [{"timestamp": draw(bad_time), "bpm": 70}]
    elif kind == "type":
        batch[draw(st.sampled_from(["Heart", "hr2", "Accel"]))] = [{"timestamp": T0}]
    else:
        batch["ScreenEvent"] = [draw(st.sampled_from([1, "ON", None]))]
    return batch


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=valid_batch)
def test_valid_batches_never_5xx(client, batch):
    pcode = f"P{next(_codes)}"
    r = client.post(f"/participants/{pcode}/records", json={"records": batch})
    assert r.status_code == 200, r.text
    sent = {k: len(v) for k, v in batch.items() if v}
    body = r.json()
    for name, n in sent.items():
        assert body["stored"][name] + body["duplicates"][name] == n
    again = client.post(f"/participants/{pcode}/records", json={"records": batch}).json()
    assert sum(again["stored"].values()) == 0
    if any(sent.values()):
        assert client.get(f"/participants/{pcode}/prediction").status_code == 200


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=invalid_batch())
def test_invalid_batches_store_nothing(client, batch):
    pcode = f"P{next(_codes)}"
    r = client.post(f"/participants/{pcode}/records", json={"records": batch})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["detail"]
    assert client.get(f"/participants/{pcode}").status_code == 404
