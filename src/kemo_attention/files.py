"""Files written whole or not at all, and their hashes: one definition for every room.

``atomic_write`` writes through a temporary file in the target's folder and renames it;
``atomic_folder`` builds a whole folder under a hidden temporary name and swaps it into
place at the end (the previous folder is put back if the swap fails). A reader therefore
never sees half a file or a folder that only looks complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); the result should read like any file the
        # user writes (the umask's permissions), or a colleague or a server running as
        # another user could not read the bundle or the feature file.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write`` of UTF-8 text."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


@contextlib.contextmanager
def atomic_folder(out: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``out``; on success it replaces ``out``.

    On any exception (Ctrl-C included) the temporary folder is removed and ``out`` is left
    as it was. The folder gets the ordinary permissions of the umask (``mkdtemp`` makes it
    private).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_replaceable_folder(out: str | Path, is_ours: Callable[[dict], bool], what: str) -> None:
    """Refuse an output folder that writing ``what`` there would wrongly replace: a file, the
    current folder or one above it, or a non-empty folder whose ``manifest.json`` is not one
    ``is_ours`` accepts (a run replaces its folder whole, so anything else in it would be lost)."""
    import json

    from kemo_attention.errors import KemoError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise KemoError(f"--out {out}: is a file; --out names the folder for the {what}")
    here, target = Path.cwd().resolve(), out.resolve()
    if here == target or target in here.parents:
        raise KemoError(f"--out {out}: is the current folder or one above it; name a new folder for the {what}")
    if out.is_dir() and any(out.iterdir()):
        try:
            manifest = json.loads((out / "manifest.json").read_text())
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or not is_ours(manifest):
            raise KemoError(f"--out {out}: exists and is not the folder of an earlier {what} (writing replaces the "
                            "folder whole); choose another --out or remove it")


def swap_folder(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an existing ``out`` is moved aside first and restored on failure."""
    if not out.exists():
        os.rename(new, out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the previous folder back
        raise
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
