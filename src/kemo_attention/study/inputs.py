"""What a study reads: a release (every label extracted in one pass) or feature files.

Every feature file goes through :func:`kemo_attention.dataset.load_dataset`, which refuses a
file whose manifest does not describe it (label and content hash), so a study never runs one
label's data under another's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from kemo_attention.errors import KemoError
from kemo_attention.study.runner import StudyInput


def _is_release(path: Path) -> bool:
    return path.is_dir() and ((path / "SubjData").is_dir() or (path / "Sensor").is_dir())


def load_inputs(
    inputs: list[str],
    labels: tuple[str, ...],
    *,
    explicit_labels: bool,
    features_dir: Path,
    tz_offset: str,
    min_responses: int = 35,
    executor=None,
    echo: Callable[[str], None] | None = None,
) -> list[StudyInput]:
    """The labels' feature files, loaded and checked, in ``labels`` order.

    ``inputs``: one release folder; or feature files, each ``PATH`` or ``LABEL=PATH``; or folders
    holding ``<label>.pkl`` files. With ``explicit_labels`` every label asked for must be found.
    """
    from kemo_attention.config import LABEL_NAMES

    if len(inputs) == 1 and _is_release(Path(inputs[0])):
        files = _extract(Path(inputs[0]), labels, features_dir, tz_offset, min_responses, executor, echo)
        return [_load(label, path) for label, path in files.items()]

    found: dict[str, Path] = {}
    for text in inputs:
        label, _, rest = text.partition("=") if "=" in text and text.split("=", 1)[0] in LABEL_NAMES else ("", "", text)
        path = Path(rest)
        if not label and "=" in text and not path.exists():
            raise KemoError(f"{text}: unknown label {text.split('=', 1)[0]!r}; LABEL=FILE takes one of {', '.join(LABEL_NAMES)}")
        if _is_release(path):
            raise KemoError(f"{path}: a release folder must be the only input (its labels are extracted together)")
        if path.is_dir():
            for name in LABEL_NAMES:
                candidate = path / f"{name}.pkl"
                if candidate.exists():
                    found.setdefault(name, candidate)
            continue
        if not path.exists():
            raise KemoError(f"{path}: no such feature file or folder")
        item = _load(label or None, path)
        if item.label in found and found[item.label] != path:
            raise KemoError(f"two feature files for label {item.label}: {found[item.label]} and {path}")
        found[item.label] = path
    wanted = [name for name in labels if name in found]
    missing = [name for name in labels if name not in found]
    if explicit_labels and missing:
        raise KemoError(f"no feature file for label(s) {', '.join(missing)} among {', '.join(inputs)}")
    if not wanted:
        raise KemoError(f"no feature file among {', '.join(inputs)} for label(s) {', '.join(labels)}")
    return [_load(name, found[name]) for name in wanted]


def _load(label: str | None, path: Path) -> StudyInput:
    """Load and check one feature file; ``label`` names the label of a file that has no manifest."""
    from kemo_attention.dataset import load_dataset
    from kemo_attention.evaluate.runner import check_dataset
    from kemo_attention.files import file_sha256

    dataset = load_dataset(path)
    named = dataset.meta.get("label")
    if label and named and dataset.label != label:
        raise KemoError(f"{path}: its manifest says label {dataset.label}, not {label}")
    if not label and not named:  # a notebook's own file: its label cannot be told, so never guessed
        raise KemoError(f"{path}: no manifest names its label; name it on the command line, e.g. attention={path}")
    if label and not named:
        dataset.meta["label"] = label
    check_dataset(dataset, str(path))
    return StudyInput(label=dataset.label, dataset=dataset, path=str(path), sha256=file_sha256(path))


def _extract(release: Path, labels, features_dir: Path, tz_offset: str, min_responses: int, executor, echo) -> dict[str, Path]:
    """Every label's features from one pass over the release (cached: a rerun reads the cache)."""
    from kemo_attention.config import FeatureSettings, LabelSettings
    from kemo_attention.features.extract import extract_release_labels

    if echo:
        echo(f"extracting {', '.join(labels)} from {release} into {features_dir}/ (one pass)")
    extract_release_labels(
        release, features_dir, labels=[LabelSettings(name=name, min_responses=min_responses) for name in labels],
        features=FeatureSettings(tz_offset=tz_offset), executor=executor,
    )  # fmt: skip
    return {name: features_dir / f"{name}.pkl" for name in labels}
