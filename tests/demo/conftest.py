"""One small demo release shared by the demo tests (written once per session)."""

from __future__ import annotations

import pytest

from kemo_attention.demo.synth import write_demo_release

from demo_sizes import SMALL


@pytest.fixture(scope="session")
def small_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "release"
    return write_demo_release(root, progress=False, **SMALL)
