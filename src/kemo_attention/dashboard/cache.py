"""Cached access to artefacts: ``st.cache_data`` for tables, ``st.cache_resource`` for the bundle
and the release's raw tables (large, read-only, shared across sessions).

Every cached function takes a signature of the file(s) (sizes and modification times) next
to the path, so a rerun of ``evaluate`` or a fresh export shows up without restarting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from kemo_attention.dashboard import data


@st.cache_data(show_spinner="Reading the evaluation folder ...", max_entries=8)
def _eval_folder(path: str, signature: tuple) -> data.EvalFolder:
    return data.read_eval_folder(path)


def eval_folder(path: Path) -> data.EvalFolder:
    return _eval_folder(str(path), data.path_signature(path))


@st.cache_data(show_spinner="Reading the study folder ...", max_entries=4)
def _study_folder(path: str, signature: tuple) -> Any:
    from kemo_attention.study.read import read_study

    return read_study(path)


def study_folder(path: Path) -> Any:
    """``read_study`` of a study folder (a ``StudyFolder``; unreadable files in its ``problems``)."""
    plots = Path(path) / "plots"
    # the plots' folders count too: a rerun that only redrew a diagram still shows
    signature = data.path_signature(path) + tuple(data.path_signature(p) for p in sorted(plots.glob("*")) if p.is_dir())
    return _study_folder(str(path), signature)


@st.cache_resource(show_spinner="Loading the model bundle ...", max_entries=4)
def _bundle(path: str, signature: tuple, sha256: str | None) -> Any:
    from kemo_attention.bundle.runtime import load_bundle

    return load_bundle(path, expected_sha256=sha256)


def bundle(path: Path, sha256: str | None = None) -> Any:
    """The bundle via ``load_bundle`` (which checks its SHA-256 against ``sha256`` when
    given and against its manifest, and the library versions)."""
    return _bundle(str(path), data.path_signature(path), sha256)


@st.cache_data(show_spinner=False, max_entries=8)
def _check_json(path: str, signature: tuple) -> dict[str, Any]:
    return data.read_check_json(path)


def check_json(path: Path) -> dict[str, Any]:
    return _check_json(str(path), data.path_signature(path))


@st.cache_data(show_spinner="Checking the release (reads every file once) ...", max_entries=2)
def _check_release(root: str, signature: tuple) -> dict[str, Any]:
    from kemo_attention.release.check import check_release

    return check_release(root).to_dict()


def check_release(root: Path) -> dict[str, Any]:
    return _check_release(str(root), data.path_signature(root))


@st.cache_resource(show_spinner=False, max_entries=4)
def _release_layout(root: str, signature: tuple) -> Any:
    from kemo_attention.release.layout import find_release

    return find_release(root)


def release_layout(root: Path) -> Any:
    """``find_release`` on the release folder (``DataError`` when it is not one)."""
    return _release_layout(str(root), data.path_signature(root))


@st.cache_data(show_spinner="Reading the self-reports ...", max_entries=4)
def _esm(path: str, signature: tuple) -> pd.DataFrame:
    from kemo_attention.release.read import read_esm

    return read_esm(path).to_pandas()


def esm(path: Path) -> pd.DataFrame:
    """EsmResponse as pandas, canonical column names (``read_esm``)."""
    return _esm(str(path), data.path_signature(path))


@st.cache_data(show_spinner=False, max_entries=4)
def _userinfo(path: str, signature: tuple) -> pd.DataFrame:
    from kemo_attention.release.read import read_userinfo

    return read_userinfo(path).to_pandas()


def userinfo(path: Path) -> pd.DataFrame:
    return _userinfo(str(path), data.path_signature(path))


@st.cache_resource(show_spinner="Reading the participant's sensor files ...", max_entries=3)
def _participant_tables(root: str, pcode: str, signature: tuple) -> dict[str, Any]:
    from kemo_attention.release.read import read_participant

    return read_participant(root, pcode).tables


def participant_tables(root: Path, pcode: str) -> dict[str, Any]:
    """The 27 typed tables of one participant (``read_participant``); kept for a few people."""
    return _participant_tables(str(root), pcode, data.path_signature(root))
