"""The planted dirt is there, and nothing else: checked with the release reader."""

from __future__ import annotations

from kemo_attention.demo.dirt import planted_dirt
from kemo_attention.release import read
from kemo_attention.release.schema import DATA_TYPES

from demo_sizes import SMALL


def test_reader_finds_exactly_the_planted_dirt(small_release):
    found = set()
    for pcode in [f"P{i:02d}" for i in range(1, SMALL["participants"] + 1)]:
        data = read.read_participant(small_release, pcode)
        assert set(data.tables) == set(DATA_TYPES)  # a missing file still gives an (empty) table
        for p in data.problems:
            found.add((pcode, p.file.replace("\\", "/").rsplit("/", 1)[-1], p.kind, p.count))
    planted = {(d.pcode, d.file, d.kind, d.count) for d in planted_dirt(SMALL["participants"])}
    assert found == planted


def test_the_six_kinds_of_dirt_are_planted():
    kinds = {d.kind for d in planted_dirt(14)}
    assert kinds == {"missing_file", "empty_file", "duplicate_timestamps", "out_of_order", "header_row", "out_of_range"}


def test_the_header_row_is_a_verbatim_header_line(small_release):
    d = next(d for d in planted_dirt(SMALL["participants"]) if d.kind == "header_row")
    lines = (small_release / "Sensor" / d.pcode / d.file).read_text(encoding="utf-8").splitlines()
    assert lines.count(lines[0]) == 2 and lines.index(lines[0], 1) > 1


def test_subject_files_read_cleanly(small_release):
    esm = read.read_esm(small_release / "SubjData" / "EsmResponse.csv")
    assert esm["scheduledTime"].null_count() > 0
    users = read.read_userinfo(small_release / "SubjData" / "UserInfo.csv")
    assert users.height == SMALL["participants"]
