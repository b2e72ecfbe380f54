"""The tables of ``docs/features.md``, generated from the catalogue the dashboard reads.

The plain words of every stream, statistic and window come from
:mod:`~kemo_attention.dashboard.feature_names` (what the dashboard shows), the streams' kinds,
categories and grid steps from :mod:`~kemo_attention.features.streams`, the file names from
:mod:`~kemo_attention.release.schema` and the column counts from the feature code itself. So
the page and the dashboard cannot disagree: a test compares the committed page with
:func:`render_page`.

Regenerate after changing a label or a stream::

    python -m kemo_attention.dashboard.feature_docs            # rewrites docs/features.md
    python -m kemo_attention.dashboard.feature_docs --check    # exit 1 when it is stale
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from kemo_attention.files import atomic_write_text
from kemo_attention.dashboard.feature_names import CATEGORICAL_STREAMS, STAT_LABELS, STREAM_LABELS, WINDOW_LABELS, parse_feature_name

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "features.md"

# How each stream's value is made from its file's columns, in our words.
STREAM_VALUES: dict[str, str] = {
    "ACC_AXX": "`x`",
    "ACC_AXY": "`y`",
    "ACC_AXZ": "`z`",
    "ACC_MAG": "length of the vector: √(x² + y² + z²)",
    "AML": "`brightness`",
    "CAL": "change of `totalCalories` since the previous row (the first row has none)",
    "DST_DST": "change of `totalDistance` since the previous row",
    "DST_MOT": "`motionType`",
    "DST_PAC": "`pace`",
    "DST_SPD": "`speed`",
    "EDA": "`resistance`",
    "HRT": "`bpm`",
    "RRI": "`interval`",
    "SKT": "`temperature`",
    "STP": "change of `totalSteps` since the previous row",
    "ULV_EXP": "change of `totalExposure` since the previous row",
    "ULV_INT": "`intensity`",
    "ACE_UNK": "`confidenceUnknown`",
    "ACE_FOT": "`confidenceOnFoot`",
    "ACE_WLK": "`confidenceWalking`",
    "ACE_VHC": "`confidenceInVehicle`",
    "ACE_BCC": "`confidenceOnBicycle`",
    "ACE_RUN": "`confidenceRunning`",
    "ACE_TLT": "`confidenceTilting` (`confidenceStill` is not used)",
    "ACT": "`transitionType` of the rows that enter an activity (`ENTER_WALKING` → `WALKING`); exits are not used",
    "APP_PAC": "`packageName` when an app comes to the foreground; *none* when it goes to the background",
    "APP_CAT": "`category` when an app comes to the foreground; *none* when it goes to the background",
    "BAT_LEV": "`level`",
    "BAT_TMP": "`temperature`",
    "BAT_STA": "`status`",
    "CAE": "`CALL` when a call with `duration` > 0 starts, `IDLE` when it ends (start + `duration` ms)",
    "CON": "`type` while `isConnected` is true, else `DISCONNECTED`",
    "DAT_RCV": "`rxKiloBytes`",
    "DAT_SNT": "`txKiloBytes`",
    "INS_JAC": "Jaccard similarity of the `packageName` sets of one snapshot and the one before",
    "LOC_DST": "metres from the previous fix (haversine on `latitude`, `longitude`); 0 for the first fix",
    "LOC_CLS": "7-character geohash of (`latitude`, `longitude`): a cell of about 150 m",
    "MED_ALL": "1 at each media event",
    "MED_IMG": "1 at each media event whose `mimetype` is an image",
    "MED_VID": "1 at each media event whose `mimetype` is a video",
    "MSG_ALL": "1 at each message",
    "MSG_SNT": "1 at each message with `messageBox` SENT",
    "MSG_RCV": "1 at each message with `messageBox` INBOX",
    "WIF_COS": "cosine similarity of the signal strengths (`rssi`) of this scan and the one before, over access points seen in both",
    "WIF_EUC": "1 / (1 + weighted Euclidean distance) of the signal strengths of this scan and the one before",
    "WIF_MAN": "1 / (1 + weighted Manhattan distance) of the signal strengths of this scan and the one before",
    "WIF_JAC": "Jaccard similarity of the access-point sets (`bssid` + `frequency`) of this scan and the one before",
    "SCR": "`type`",
    "RNG": "`type`",
    "CHG": "`type`",
    "PWS": "`type`",
    "ONF": "`type`",
}

# Window statistics in our words: (code, definition, which kind of stream gets it).
WINDOW_STATS: tuple[tuple[str, str, str], ...] = (
    ("AVG", "mean of the window's values", "numeric"),
    ("STD", "sample standard deviation (n − 1); 0 with fewer than two values", "numeric"),
    ("SKW", "skewness, bias-corrected (as scipy's `skew(bias=False)`)", "numeric"),
    ("KUR", "excess kurtosis, bias-corrected (as scipy's `kurtosis(bias=False)`)", "numeric"),
    ("ASC", "sum of the absolute differences of consecutive values", "numeric"),
    ("BEP", "entropy of a histogram of the values, bins by Doane's rule", "numeric"),
    ("MED", "median", "numeric"),
    ("TSC", "complexity: length of the standardised series, √Σ(Δz)²", "numeric"),
    ("ETP", "entropy of the shares of the values", "categorical"),
    ("ASC", "number of times the value changes", "categorical"),
    ("DUR", "share of the window with the first category (streams with two categories)", "categorical"),
    ("DUR=c", "share of the window with category c (streams with more than two)", "categorical"),
    ("COV", "share of the window covered by real samples (only with `--coverage`)", "any"),
)
# Features without a window: (code, definition).
POINT_FEATURES: tuple[tuple[str, str], ...] = (
    ("VAL", "numeric streams: the last value at or before the sample time (0 when there is none)"),
    ("VAL=c", "categorical streams with a category list: true when the last value equals c"),
    ("DSC", "categorical streams: seconds since the last event at or before the sample time (0 when there is none, see the modes below)"),
    ("DSC=c", "categorical streams with a category list: seconds since the last event equal to c (−1 when earlier events exist but none equals c)"),
)
# Participant features and the UserInfo.csv column each comes from.
PARTICIPANT_FIELDS: tuple[tuple[str, str], ...] = (
    ("AGE", "age"), ("GEN=F", "gender = F"), ("GEN=M", "gender = M"), ("BFI_OPN", "openness"),
    ("BFI_CON", "conscientiousness"), ("BFI_NEU", "neuroticism"), ("BFI_EXT", "extraversion"),
    ("BFI_AGR", "agreeableness"), ("PSS", "PSS"), ("PHQ", "PHQ"), ("GHQ", "GHQ"),
)  # fmt: skip
# The physiology family (``--features reference+physio``): (stream, code, definition).
PHYSIO_STATS: tuple[tuple[str, str, str], ...] = (
    ("RRI", "MNN", "mean of the window's NN intervals (RR intervals left by the artefact rules)"),
    ("RRI", "SDN", "SDNN: their sample standard deviation (n − 1)"),
    ("RRI", "RMS", "RMSSD: √(mean of the squared differences of successive NN intervals)"),
    ("RRI", "PNN", "pNN50: share (%) of those differences above 50 ms (of the differences, not of the intervals)"),
    ("RRI", "SD1", "Poincaré SD1: standard deviation (n − 1) of the successive differences / √2"),
    ("RRI", "SD2", "Poincaré SD2: standard deviation (n − 1) of the sums of successive pairs / √2"),
    ("RRI", "LFP", "power of the NN series in 0.04-0.15 Hz (Welch, below); only when the window's NN intervals span ≥ 80 % of it"),
    ("RRI", "HFP", "power in 0.15-0.4 Hz, same method and condition"),
    ("RRI", "LHR", "LF / HF"),
    ("EDA", "TNC", "mean of the tonic level (causal 0.05 Hz low-pass of the conductance 1000 / resistance)"),
    ("EDA", "TNS", "least-squares slope of the tonic level over the window"),
    ("EDA", "SRN", "number of responses (phasic rise ≥ 0.05 µS from onset to peak) confirmed in the window"),
    ("EDA", "SRA", "their mean amplitude, peak − onset of the phasic signal"),
    ("EDA", "SRT", "their mean rise time, onset to peak"),
    ("SKT", "SLP", "least-squares slope of the raw samples (at least 3)"),
)
WINDOW_SECONDS = {"S30": 30, "M01": 60, "M05": 300, "M10": 600, "M30": 1_800, "H01": 3_600, "H03": 10_800,
                  "H06": 21_600, "H12": 43_200, "H24": 86_400}  # fmt: skip


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _streams_table() -> str:
    from kemo_attention.features.streams import STREAM_SPECS, STREAMS_OF_TYPE
    from kemo_attention.release.schema import DATA_TYPES

    file_of = {s: DATA_TYPES[t].file_name for t, streams in STREAMS_OF_TYPE.items() for s in streams}
    device = {s: DATA_TYPES[t].source for t, streams in STREAMS_OF_TYPE.items() for s in streams}
    lines = [_row("stream", "in plain words", "kind", "file", "device", "value"), "|---|---|---|---|---|---|"]
    for spec in STREAM_SPECS:
        kind = "numeric" if spec.kind == "num" else "categorical"
        lines.append(_row(f"`{spec.name}`", STREAM_LABELS[spec.name], kind, f"`{file_of[spec.name]}`", device[spec.name], STREAM_VALUES[spec.name]))
    return "\n".join(lines)


def _categories_table() -> str:
    from kemo_attention.features.streams import STREAM_SPECS

    lines = [_row("stream", "categories (in this order)"), "|---|---|"]
    for spec in STREAM_SPECS:
        if spec.kind != "cat":
            continue
        cats = ", ".join(spec.categories) if spec.categories else "no fixed list: values as they come (time since, entropy and changes only)"
        lines.append(_row(f"`{spec.name}`", cats))
    return "\n".join(lines)


def _grid_table() -> str:
    from kemo_attention.features.streams import STREAM_SPECS

    steps: dict[int, list[str]] = {}
    for spec in STREAM_SPECS:
        steps.setdefault(spec.grid_step_ms, []).append(spec.name)
    lines = [_row("grid step", "streams"), "|---|---|"]
    for step, names in sorted(steps.items()):
        shown = ", ".join(f"`{n}`" for n in names) if len(names) < 10 else "every other stream"
        lines.append(_row(f"{step / 1000:g} s", shown))
    return "\n".join(lines)


def _stats_table() -> str:
    lines = [_row("code", "in plain words", "definition", "streams"), "|---|---|---|---|"]
    for code, definition, kind in WINDOW_STATS:
        base = code.split("=")[0]
        words = "number of changes" if (code == "ASC" and kind == "categorical") else STAT_LABELS[base]
        lines.append(_row(f"`{code}`", words, definition, kind))
    for code, definition in POINT_FEATURES:
        lines.append(_row(f"`{code}`", STAT_LABELS[code.split("=")[0]], definition, "(no window)"))
    return "\n".join(lines)


def _windows_table() -> str:
    lines = [_row("code", "length", "in plain words", "used by"), "|---|---:|---|---|"]
    for code, words in WINDOW_LABELS.items():
        seconds = WINDOW_SECONDS[code]
        used = "label history (`ESM#LIK`)" if code in ("H12", "H24") else ("stream windows and label history" if code == "H06" else "stream windows")
        lines.append(_row(f"`{code}`", f"{seconds:,} s", words, used))
    return "\n".join(lines)


def _physio_table() -> str:
    from kemo_attention.features.physio import PHYSIO_WINDOWS

    lines = [_row("feature", "in plain words", "definition", "windows"), "|---|---|---|---|"]
    for stream, code, definition in PHYSIO_STATS:
        windows = ", ".join(f"`{w}`" for w in PHYSIO_WINDOWS[stream])
        lines.append(_row(f"`{stream}#{code}#W`", STAT_LABELS[code], definition, windows))
    return "\n".join(lines)


def _families() -> Counter:
    from kemo_attention.features.layout import feature_columns

    families: Counter = Counter()
    for name in feature_columns():
        parsed = parse_feature_name(name)
        if parsed.stream == "PIF":
            families["participant (`PIF#...`)"] += 1
        elif parsed.stream == "ESM" and parsed.stat == "LIK":
            families["label history (`ESM#LIK#W`)"] += 1
        elif parsed.stream == "ESM":
            families["time of the prompt (`ESM#DOW`, `#WKD`, `#HRN`)"] += 1
        elif parsed.stat == "VAL":
            families["latest value (`S#VAL`, `S#VAL=c`)"] += 1
        elif parsed.stat == "DSC":
            families["time since (`S#DSC`, `S#DSC=c`)"] += 1
        elif parsed.stream in CATEGORICAL_STREAMS:
            families["categorical windows (`S#ETP#W`, `#ASC`, `#DUR`)"] += 1
        else:
            families["numeric windows (`S#AVG#W` ...)"] += 1
    return families


def _counts_table() -> str:
    from kemo_attention.features.layout import feature_columns, is_bool_feature

    columns = feature_columns()
    n_bool = sum(is_bool_feature(c) for c in columns)
    lines = [_row("family", "columns"), "|---|---:|"]
    for family, n in _families().items():
        lines.append(_row(family, f"{n:,}"))
    lines.append(_row(f"**all** ({n_bool} true/false, {len(columns) - n_bool:,} numeric)", f"**{len(columns):,}**"))
    return "\n".join(lines)


def _participant_table() -> str:
    lines = [_row("feature", "in plain words", "from `UserInfo.csv`"), "|---|---|---|"]
    for code, column in PARTICIPANT_FIELDS:
        lines.append(_row(f"`PIF#{code}`", parse_feature_name(f"PIF#{code}").label.split(" · ", 1)[1], f"`{column}`"))
    return "\n".join(lines)


SECTIONS = {
    "counts": _counts_table,
    "streams": _streams_table,
    "categories": _categories_table,
    "grid": _grid_table,
    "statistics": _stats_table,
    "windows": _windows_table,
    "participant": _participant_table,
    "physiology": _physio_table,
}
_BLOCK = re.compile(r"(<!-- generated: (?P<name>\w+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def render_page(text: str) -> str:
    """``text`` with every generated block replaced by the catalogue's current table."""
    seen: list[str] = []

    def replace(match: re.Match) -> str:
        name = match["name"]
        if name not in SECTIONS:
            raise ValueError(f"docs/features.md names an unknown generated block {name!r}; known: {', '.join(SECTIONS)}")
        seen.append(name)
        return match.group(1) + SECTIONS[name]() + "\n" + match.group(4)

    out = _BLOCK.sub(replace, text)
    missing = [name for name in SECTIONS if name not in seen]
    if missing:
        raise ValueError(f"docs/features.md lacks the generated block(s) {', '.join(missing)}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = DOC_PATH.read_text(encoding="utf-8")
    fresh = render_page(current)
    if "--check" in args:
        if fresh != current:
            print(f"{DOC_PATH} is stale: run `python -m kemo_attention.dashboard.feature_docs`", file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        atomic_write_text(DOC_PATH, fresh)
        print(f"rewrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
