"""Fixtures of the release tests; the writer itself is in ``release_writer.py``."""

from pathlib import Path

import pytest
from release_writer import T0, full_participant, write_release


@pytest.fixture
def small_release(tmp_path) -> Path:
    """Two participants: P01 with every file, P02 with HR only (spanning two local days)."""
    day = 86_400_000
    return write_release(
        tmp_path / "rel",
        {"P01": full_participant(), "P02": {"HR": [T0, T0 + 1000, T0 + day, T0 + day + 5]}},
        esm={"P01": (40, 3), "P02": (10, 0)},
    )
