"""``kemo-attention synth``: writes atomically, refuses a non-empty folder, clear errors."""

from __future__ import annotations

import sys

import pytest

from kemo_attention.demo import synth
from kemo_attention.errors import KemoError


def _run(capsys, *args) -> tuple[int, str]:
    """Run the real entry point (``cli.main``) in this process; return (exit code, stderr)."""
    from kemo_attention import cli

    capsys.readouterr()
    argv = sys.argv
    sys.argv = ["kemo-attention", "synth", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as ex:
        code = ex.code or 0
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def test_cli_writes_a_release_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "rel"
    code, err = _run(capsys, "--out", str(out), "--participants", "2", "--days", "1", "--seed", "4", "--quiet")
    assert code == 0, err
    assert (out / "SubjData" / "EsmResponse.csv").is_file() and (out / "Sensor" / "P02" / "HR.csv").is_file()
    before = (out / "Sensor" / "P01" / "HR.csv").read_bytes()
    code, err = _run(capsys, "--out", str(out), "--participants", "2", "--days", "1", "--seed", "5", "--quiet")
    assert code == 2
    assert "not empty" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (out / "Sensor" / "P01" / "HR.csv").read_bytes() == before
    code, err = _run(capsys, "--out", str(out), "--participants", "2", "--days", "1", "--seed", "5", "--quiet", "--force")
    assert code == 0, err
    assert (out / "Sensor" / "P01" / "HR.csv").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel"]  # no temporary folders left


def test_bad_sizes_are_one_line_errors(tmp_path, capsys):
    code, err = _run(capsys, "--out", str(tmp_path / "x"), "--scale", "0")
    assert code == 2
    assert "scale must be above 0" in err
    assert not (tmp_path / "x").exists()


def test_an_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    real = synth.write_participant
    calls = []

    def failing(item, **kw):
        calls.append(item[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C half-way
        return real(item, **kw)

    monkeypatch.setattr(synth, "write_participant", failing)
    with pytest.raises(KeyboardInterrupt):
        synth.write_demo_release(tmp_path / "rel", participants=3, days=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_existing_folder_is_fine(tmp_path):
    (tmp_path / "rel").mkdir()
    root = synth.write_demo_release(tmp_path / "rel", participants=1, days=1, progress=False)
    assert (root / "SubjData" / "UserInfo.csv").is_file()


def test_library_refuses_non_empty_folder(tmp_path):
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "notes.txt").write_text("mine")
    with pytest.raises(KemoError, match="not empty"):
        synth.write_demo_release(tmp_path / "rel", participants=1, days=1, progress=False)
    assert (tmp_path / "rel" / "notes.txt").read_text() == "mine"
