"""Live prediction, apart from HTTP: ingest batches into the store, predict from what it keeps.

Records are typed and cleaned by the release reader's own code (``frame_from_records``),
streams come from ``build_streams`` and features from ``feature_blocks`` (what
``features_for_prompts`` runs), the probability from the serving room's
:class:`~kemo_attention.serve.service.PredictionService`. What this module adds is the
bookkeeping of :mod:`~kemo_attention.live.history`: which rows to keep, and the few samples
kept from before the cutoff so that the features equal those of the whole history.

With ``personal_labels`` (``serve --personalize``) a prediction is recalibrated per person as
in the study's hybrid protocol (models/personalize.py): the offset comes from the participant's
first answers, each paired with the population probability at its prompt time. That probability
is computed by :meth:`LiveService.population` (the same code as a prediction) when the answer
arrives, while the raw data before its prompt are still stored, and kept with the answer
(``answer_scores``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kemo_attention.config import DECISION_THRESHOLD, decide
from kemo_attention.errors import KemoError
from kemo_attention.features.assemble import feature_blocks
from kemo_attention.features.layout import blocks_to_matrix
from kemo_attention.features.physio import PHYSIO_WARMUP_MS, physio_feature_names
from kemo_attention.features.streams import STREAM_SPECS, STREAMS_OF_TYPE, build_streams
from kemo_attention.features.window import WINDOWS
from kemo_attention.live.history import StreamState, carry_rows, fold_state, with_state
from kemo_attention.live.store import HOUR_MS, LiveStore
from kemo_attention.live.tokens import PCODE_FORM, canonical_pcode
from kemo_attention.models.personalize import DEFAULT_PRIOR_SD, apply_offset, fit_offset
from kemo_attention.release.read import empty_frame
from kemo_attention.release.schema import DATA_TYPES, ESM_COLUMNS, TIMESTAMP, epoch_ms_problem
from kemo_attention.serve.service import PredictionService, RequestError

MARGIN_MS = HOUR_MS  # raw data kept beyond the longest window: late batches and past `at` up to ~1 h
FUTURE_MS = 86_400_000  # a timestamp more than a day ahead of the server's clock is refused
_STREAM_TYPE = {s: t for t, names in STREAMS_OF_TYPE.items() for s in names}
_WINDOW_MS = dict(WINDOWS)
_NEVER = -(1 << 62)


def check_pcode(pcode: str) -> str:
    """The participant code in the release's form (P5, P05 and P0005 are one person: P05)."""
    canonical = canonical_pcode(pcode)
    if canonical is None:
        raise RequestError(422, f"pcode {pcode!r}: expected a participant code, {PCODE_FORM}")
    return canonical


def needs_of(used_features: list[str]) -> tuple[list[str], int]:
    """The streams the features use, and the raw history they need behind a prediction (ms):
    the longest window, and for a physiology feature its window plus the family's warm-up
    (its filters and artefact rules read samples before the window)."""
    streams, longest = set(), 30_000
    physio = set(physio_feature_names())
    for name in used_features:
        head, _, rest = name.partition("#")
        if head in _STREAM_TYPE:
            streams.add(head)
            win = rest.rsplit("#", 1)[-1]
            need = _WINDOW_MS.get(win, 0) + (PHYSIO_WARMUP_MS if name in physio else 0)
            longest = max(longest, need)
    return [s.name for s in STREAM_SPECS if s.name in streams], longest


@dataclass(frozen=True)
class LabelledAnswer:
    """An answer usable as a label: prompt time (its anchor), label, when it was given."""

    prompt_ms: int
    y: int
    response_ms: int
    body: str = ""
    scored: bool = False  # a population probability was computed for it (or tried)
    probability: float | None = None  # that probability (None: none could be computed)


class LiveService:
    """Ingest and predict for the participants of one store with one bundle."""

    def __init__(self, predictor: PredictionService, store: LiveStore, *, features: list[str] | None = None,
                 personal_labels: int | None = None, prior_sd: float = DEFAULT_PRIOR_SD):
        """``features``: compute these instead of the bundle's selected ones (tests compare
        every feature with offline extraction this way). ``personal_labels``: recalibrate
        predictions with the offset fitted on each participant's first K answers (None: off)."""
        if personal_labels is not None and (isinstance(personal_labels, bool) or int(personal_labels) != personal_labels
                                            or personal_labels < 1):
            raise KemoError(f"personal labels must be a whole number >= 1; got {personal_labels!r}")
        self.personal_labels = None if personal_labels is None else int(personal_labels)
        self.prior_sd = float(prior_sd)
        self.predictor, self.store = predictor, store
        bundle = predictor.bundle
        self.streams, self.window_ms = needs_of(bundle.used_features() if features is None else features)
        self.types = [t for t in DATA_TYPES if any(s in self.streams for s in STREAMS_OF_TYPE[t])]
        self.settings = bundle.feature_settings()
        self.label = dict(bundle.manifest.get("label") or {"name": "attention"})
        self.model_sha256 = str(bundle.manifest.get("pkl_sha256", ""))

    # ------------------------------------------------------------------ ingest
    def ingest(self, pcode: str, records: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        pcode = check_pcode(pcode)
        tables, absent = self.predictor.tables(records, given_only=True)
        given = {name: frame for name, frame in tables.items() if name not in absent}
        now = int(time.time() * 1000)
        for name, frame in given.items():
            _refuse_future(name, frame, records, now)
        stored: dict[str, int] = {}
        duplicates: dict[str, int] = {}
        too_old: dict[str, int] = {}
        archived: dict[str, int] = {}
        with self.store.write(pcode) as tx:
            meta = tx.ensure()
            cutoff = meta["cutoff_ms"]
            latest = meta["latest_ms"]
            keep_raw = tx.keeps_raw()
            for name, frame in given.items():
                if cutoff is not None and frame.height and int(frame.get_column(TIMESTAMP).min()) < cutoff:
                    old = frame.filter(pl.col(TIMESTAMP) < cutoff)
                    frame = frame.filter(pl.col(TIMESTAMP) >= cutoff)
                    if keep_raw:  # too late for live features, but part of the record: archived
                        archived[name] = tx.archive(name, old)
                    elif old.height:
                        too_old[name] = old.height
                new = _new_rows(tx, name, frame)
                tx.append(name, new)
                stored[name] = new.height
                duplicates[name] = frame.height - new.height
                if new.height:
                    top = int(new.get_column(TIMESTAMP).max())
                    latest = top if latest is None else max(latest, top)
            if latest is not None:
                tx.set_meta(latest_ms=latest)
                self._prune(tx, meta, latest, archive=keep_raw)
        out: dict[str, Any] = {"pcode": pcode, "stored": stored, "duplicates": duplicates}
        if archived:
            # behind the live window: stored for store-export, never read by a prediction
            out["archived"] = archived
        if too_old:
            out["too_old"] = too_old
            out["warnings"] = [
                f"{n} {name} row(s) older than the kept window (from {cutoff}) were not stored: the store keeps "
                f"{self.window_ms // 60_000} min + {MARGIN_MS // 60_000} min behind the newest data"
                for name, n in too_old.items()
            ]
        return out

    def _prune(self, tx, meta: dict[str, Any], latest: int, *, archive: bool = False) -> None:
        """Move the cutoff to the hour ``longest window + margin`` behind ``latest``: fold the
        leaving rows' stream samples into the state, keep the carry rows, drop the rest
        (``archive``, the store's keep_raw: keep the rest where live reads do not see it, so
        that predictions are the same, and cost the same, whether the store keeps raw rows)."""
        target = (latest - self.window_ms - MARGIN_MS) // HOUR_MS * HOUR_MS
        old_cutoff = meta["cutoff_ms"]
        if old_cutoff is not None and target <= old_cutoff:
            return
        leaving: dict[str, pl.DataFrame] = {}
        carry: dict[str, pl.DataFrame] = {}
        for name in tx.types():
            frame = tx.rows(name, end=target - 1)
            if frame is None:
                continue
            frame = frame.filter(pl.col(TIMESTAMP) < target)
            leaving[name] = frame
            carry[name] = carry_rows(name, frame, target)
        if old_cutoff is None and not leaving:
            return
        state = {k: StreamState.from_json(v) for k, v in meta["state"].items()}
        tables = {name: leaving.get(name, empty_frame(dt)) for name, dt in DATA_TYPES.items()}
        lo = _NEVER if old_cutoff is None else old_cutoff
        for name, stream in build_streams(tables).items():
            a = int(np.searchsorted(stream.times, lo, side="left"))
            b = int(np.searchsorted(stream.times, target, side="left"))
            if b > a or name in state:
                folded = fold_state(name, state.get(name), stream.times[a:b], stream.values[a:b])
                if folded is not None:
                    state[name] = folded
        tx.prune(target, carry, archive=archive)
        tx.set_meta(cutoff_ms=target, state={k: v.to_json() for k, v in state.items()})

    # ------------------------------------------------------------------ answers and profile
    def add_answers(self, pcode: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
        pcode = check_pcode(pcode)
        rows = [_answer_row(i, a, pcode) for i, a in enumerate(answers)]
        with self.store.write(pcode) as tx:
            tx.ensure()
            stored, dup = tx.add_answers(rows)
        out: dict[str, Any] = {"pcode": pcode, "stored": stored, "duplicates": dup}
        if self.personal_labels is not None:
            problems = self.score_personal_answers(pcode)
            if problems:
                out["warnings"] = problems
        return out

    def set_profile(self, pcode: str, profile: dict[str, Any]) -> dict[str, Any]:
        pcode = check_pcode(pcode)
        with self.store.write(pcode) as tx:
            tx.ensure()
            tx.set_profile(profile)
        return {"pcode": pcode, "profile": profile}

    # ------------------------------------------------------------------ predict
    def predict(self, pcode: str, at: int | None = None) -> dict[str, Any]:
        pcode = check_pcode(pcode)
        proba, at, seen, warnings = self.population(pcode, at)
        detail: dict[str, Any] = {"streams": seen, "warnings": warnings}
        if self.personal_labels is not None:
            self.score_personal_answers(pcode, at)  # answers this model has not scored yet (normally none)
            personal = self.personal_offset(pcode, at)
            personal["population_probability"] = proba
            proba = float(apply_offset(proba, personal["offset"]))
            detail["personalization"] = personal
        record = {
            "pcode": pcode, "at": at, "probability": proba, "label": decide(proba), "threshold": DECISION_THRESHOLD,
            "model_sha256": self.model_sha256, "served_at": time.time(),
        }
        with self.store.write(pcode) as tx:
            if tx.meta() is not None:  # deleted meanwhile: nothing to record
                tx.add_prediction(record, detail)
        return {**record, **detail}

    def population(self, pcode: str, at: int | None = None) -> tuple[float, int, dict, list[str]]:
        """The bundle's probability at prompt time ``at`` from the stored data (no
        personalization): ``(probability, at, what each stream saw, warnings)``."""
        self.predictor.check_raw_servable()
        X, at, seen, warnings = self.features(pcode, at)
        # the arrays straight into the model: layout order is the bundle's (check_raw_servable)
        return float(self.predictor.proba(X)[0]), at, seen, warnings

    # ------------------------------------------------------------------ personalization
    def score_personal_answers(self, pcode: str, at: int | None = None) -> list[str]:
        """Store the population probability at the prompt time of each answer that is among
        the participant's first K (by prompt time; with ``at``, also the first K known before
        ``at``) and has none yet for this model; returns what could not be scored, and why.

        An answer scored when it arrives is among the first K stored then; later answers cost
        nothing. (With ``at``: a prediction for a past time, before an earlier prompt's answer
        had come in, reaches one answer further.) An answer whose prompt lies
        before the kept raw window (it arrived more than ~1 h after its prompt, or the server
        gained --personalize later) gets no probability, is recorded as such, and is left out
        of the offset."""
        with self.store.read(pcode) as tx:
            rows = tx.scored_answers(self.model_sha256)
        labelled = self._labelled(rows)
        first = labelled[: self.personal_labels]
        if at is not None:
            first += [a for a in labelled if a.response_ms <= at - 1][: self.personal_labels]
        problems = []
        for answer in {a.body: a for a in first if not a.scored}.values():
            try:
                proba, note = self.population(pcode, answer.prompt_ms)[0], None
            except RequestError as err:
                if err.status >= 500 or err.status == 409:
                    raise
                proba, note = None, err.message
                problems.append(f"the answer to the prompt at {answer.prompt_ms} cannot personalize predictions: {note}")
            with self.store.write(pcode) as tx:
                if tx.meta() is not None:
                    tx.set_answer_score(answer.body, self.model_sha256, answer.prompt_ms, proba, note)
        return problems

    def personal_offset(self, pcode: str, at: int) -> dict[str, Any]:
        """The offset for a prediction at ``at``: fitted on the first min(K, n) of the n answers
        known before ``at`` (response time <= at - 1 ms, as for the label history), in prompt
        order, each with its stored population probability; answers without one are left out
        (``answers_unscored``)."""
        with self.store.read(pcode) as tx:
            rows = tx.scored_answers(self.model_sha256)
        known = [a for a in self._labelled(rows) if a.response_ms <= at - 1]
        first = known[: self.personal_labels]
        used = [a for a in first if a.probability is not None]
        offset = fit_offset([a.probability for a in used], [a.y for a in used], self.prior_sd)
        return {"k": self.personal_labels, "answers_used": len(used), "answers_unscored": len(first) - len(used),
                "offset": offset, "prior_sd": self.prior_sd}

    def _labelled(self, rows: list[tuple[dict[str, Any], str, bool, float | None]]) -> list[LabelledAnswer]:
        """The usable answers (labelled as in training) in prompt order, ties by response time."""
        out = []
        for anchor, y, resp, i in self._usable([answer for answer, *_ in rows]):
            _, body, scored, proba = rows[i]
            out.append(LabelledAnswer(anchor, y, resp, body, scored, proba))
        return sorted(out, key=lambda a: (a.prompt_ms, a.response_ms))

    def features(self, pcode: str, at: int | None = None):
        """The feature row at prompt time ``at`` from the stored data, as a one-row float64
        matrix in the feature layout's column order (the streams this service computes; the
        others are empty), ``at``, what each stream saw, warnings."""
        pcode = check_pcode(pcode)
        with self.store.read(pcode) as tx:
            meta = tx.meta()
            if meta is None:
                raise RequestError(404, f"participant {pcode} has nothing stored")
            if at is None:
                if meta["latest_ms"] is None:
                    raise RequestError(422, f"participant {pcode} has no sensor records yet; send records or give ?at=")
                at = int(meta["latest_ms"])
            elif epoch_ms_problem(at) is not None:
                raise RequestError(422, f"at: {epoch_ms_problem(at)}")
            t = at - 1
            cutoff = meta["cutoff_ms"]
            if cutoff is not None and t - self.window_ms < cutoff:
                raise RequestError(
                    422,
                    f"at: {at} is earlier than the stored window: {pcode}'s raw data are kept from {cutoff} "
                    f"(the history the features need, {self.window_ms // 60_000} min, plus {MARGIN_MS // 60_000} min behind "
                    f"the newest data, {meta['latest_ms']}); ask for at >= {cutoff + self.window_ms + 1}",
                    kept_from=cutoff,
                )
            tables = {}
            for name, dt in DATA_TYPES.items():
                frame = tx.rows(name, end=t) if name in self.types else None
                tables[name] = frame if frame is not None else empty_frame(dt)
            answers = tx.answers()
            profile = meta["profile"]
            state = meta["state"]
        streams = build_streams(tables)
        lo = _NEVER if cutoff is None else cutoff
        for name in self.streams:
            kept = StreamState.from_json(state[name]) if name in state else None
            streams[name] = with_state(streams[name], kept, lo)
        past = self.past_labels(answers, t)
        numeric, flags = feature_blocks(streams, np.array([at], dtype=np.int64), userinfo=profile,
                                        past_labels=past, settings=self.settings)
        X = blocks_to_matrix(numeric, flags, self.settings.coverage, self.settings.physio)
        seen, warnings = {}, []
        for name in self.streams:
            s = streams[name]
            last = int(np.searchsorted(s.times, t, side="right"))
            first = int(np.searchsorted(s.times, t - HOUR_MS, side="right"))
            seen[name] = {"samples_last_hour": last - first, "last_sample": int(s.times[last - 1]) if last else None}
            if last == 0:
                warnings.append(f"stream {name} (from {_STREAM_TYPE[name]}) has no data at or before at; the model relies on it")
        return X, at, seen, warnings

    def past_labels(self, answers: list[dict[str, Any]], t: int) -> list[tuple[int, int]]:
        """``(prompt time, y)`` of the answers given at or before t, labelled as in training."""
        return [(anchor, y) for anchor, y, resp, _ in self._usable(answers) if resp <= t]

    def _usable(self, answers: list[dict[str, Any]]) -> list[tuple[int, int, int, int]]:
        """``(prompt time, y, response time, index in answers)`` of the answers usable as labels
        (a prompt time and a label value), labelled as in training; with ``threshold_kind =
        participant_mean`` the mean is over every answer stored."""
        name = self.label.get("name", "attention")
        threshold = float(self.label.get("threshold", 0.0))
        scheduled_only = bool(self.label.get("scheduled_only", True))
        usable = []
        for i, a in enumerate(answers):
            value = a.get(name)
            anchor = a.get("scheduledTime")
            if anchor is None and not scheduled_only:
                anchor = a.get("responseTime")
            if anchor is None or value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            usable.append((int(anchor), float(value), int(a["responseTime"]), i))
        if self.label.get("threshold_kind") == "participant_mean" and usable:
            threshold += float(np.mean([v for _, v, _, _ in usable]))
        return [(anchor, int(v > threshold), resp, i) for anchor, v, resp, i in usable]


# ---------------------------------------------------------------------- helpers
def _refuse_future(name: str, frame: pl.DataFrame, records: dict, now: int) -> None:
    """A timestamp more than a day ahead of the server's clock is a client's clock or unit
    error (the plausible 2000-2100 range is already checked where records are read)."""
    limit = now + FUTURE_MS
    if frame.height == 0 or int(frame.get_column(TIMESTAMP).max()) <= limit:
        return
    recs = next(v for k, v in records.items() if k.lower() == name.lower())
    for i, rec in enumerate(recs):
        value = next((v for k, v in rec.items() if str(k).strip().lower() == TIMESTAMP), None)
        try:
            ahead = int(float(value)) > limit
        except (TypeError, ValueError):
            continue
        if ahead:
            raise RequestError(422, f"records.{name}: record {i} (0-based index), column 'timestamp': {value!r} is more "
                                    f"than a day ahead of the server's clock ({now})", data_type=name)


def _new_rows(tx, name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` equal to no stored row of the type (same timestamp and values)."""
    if frame.height == 0:
        return frame
    times = frame.get_column(TIMESTAMP)
    newest = tx.last_time(name)
    if newest is None or int(times.min()) > newest:  # in-order data: nothing stored to compare with
        return frame
    stored = tx.rows(name, int(times.min()), int(times.max()), carry=False)
    if stored is None:
        return frame
    stored = stored.filter(pl.col(TIMESTAMP).is_in(times.unique().implode()))
    if stored.height == 0:
        return frame
    return frame.join(stored.unique(), on=frame.columns, how="anti", nulls_equal=True, maintain_order="left")


_ESM = {c.name.lower(): c for c in ESM_COLUMNS}


def _answer_row(i: int, answer: Any, pcode: str) -> tuple[int, int | None, str]:
    if not isinstance(answer, dict):
        raise RequestError(422, f"answers[{i}]: expected an object of EsmResponse columns; got {type(answer).__name__}")
    row: dict[str, Any] = {}
    for key, value in answer.items():
        col = _ESM.get(str(key).strip().lower())
        if col is None:
            raise RequestError(422, f"answers[{i}], column {key!r}: not an EsmResponse column; expected "
                                    f"{', '.join(c.name for c in ESM_COLUMNS)}")
        if col.name == "pcode":
            if value is not None and (not isinstance(value, str) or canonical_pcode(value) != pcode):
                raise RequestError(422, f"answers[{i}], column 'pcode': {value!r} differs from the participant in the path ({pcode})")
            continue
        if value is None:
            row[col.name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
            raise RequestError(422, f"answers[{i}], column {col.name!r}: expected an integer; got {value!r}")
        row[col.name] = int(value)
    response = row.get("responseTime")
    if response is None:
        raise RequestError(422, f"answers[{i}], column 'responseTime': required (epoch milliseconds of the answer)")
    for key in ("responseTime", "scheduledTime"):
        v = row.get(key)
        if v is not None and epoch_ms_problem(v) is not None:
            raise RequestError(422, f"answers[{i}], column {key!r}: {epoch_ms_problem(v)}")
    ordered = {c.name: row[c.name] for c in ESM_COLUMNS if c.name in row}
    return response, row.get("scheduledTime"), json.dumps(ordered, separators=(",", ":"))
