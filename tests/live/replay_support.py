"""Helpers of the replay tests: a tiny release on disk (the servers are live_server's and
serve_support's)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def tiny_release(root: Path, *, participants: int = 2, days: float = 2.0, prompts_per_day: int = 20, seed: int = 3) -> Path:
    """The feature tests' hand-made release (every one of the 27 files, low rates)."""
    sys.path.insert(0, str(TESTS / "features"))
    try:
        from tiny_release import write_release
    finally:
        sys.path.remove(str(TESTS / "features"))
    return write_release(root, participants=participants, days=days, prompts_per_day=prompts_per_day, seed=seed)
