"""files.py: whole files and folders or nothing, with the permissions of the user's umask."""

from __future__ import annotations

import os
import stat

import pytest

from kemo_attention.files import atomic_folder, atomic_write, atomic_write_text, file_sha256


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_written_file_has_the_umask_permissions_not_mkstemps_private_ones(tmp_path, umask_022):
    path = atomic_write_text(tmp_path / "bundle.manifest.json", "{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by a server running as another user


def test_a_swapped_folder_has_the_umask_permissions(tmp_path, umask_022):
    with atomic_folder(tmp_path / "release") as tmp:
        (tmp / "a.csv").write_text("x\n")
    assert stat.S_IMODE((tmp_path / "release").stat().st_mode) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write_text(tmp_path / "attention.pkl", "old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["attention.pkl"]


def test_a_failed_folder_leaves_the_old_folder(tmp_path):
    out = tmp_path / "eval"
    with atomic_folder(out) as tmp:
        (tmp / "leaderboard.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(out) as tmp:
            (tmp / "leaderboard.csv").write_text("half")
            raise KeyboardInterrupt
    assert (out / "leaderboard.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["eval"]


def test_sha256_of_a_known_text(tmp_path):
    # the SHA-256 of b"abc" is a published test vector (FIPS 180-2, appendix B.1)
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
