"""The bundle tests use the shared synthetic dataset and bundle (``tests/synthetic_features.py``)."""

from synthetic_features import bundle, bundle_dir, bundle_path, dataset, kinds, small_kinds  # noqa: F401  (shared fixtures)
