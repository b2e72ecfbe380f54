"""Sizes of the small demo release the demo tests share (importable by name: no package here)."""

SMALL = dict(participants=6, days=3, scale=0.05, seed=3)
