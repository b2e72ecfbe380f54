"""Replay a release through the live endpoints, as a participant's phone and band would.

For each participant: the profile first (``PUT .../profile``), then the sensor records in
data-time order, in batches of ``batch_ms`` of data time (``POST .../records``), each answer
once its response time has passed (``POST .../answers``), and a prediction at every
scheduled prompt (``GET .../prediction?at=T``) once every record before T has been sent.

The prompt time T is the answer's ``scheduledTime``, the anchor offline extraction gives a
sample (``features/labels.py``); the server, like extraction, describes it by the data up
to T - 1 ms. A batch that meets a prompt or an answer is cut there, so the server has
exactly the data before T when it is asked, and nothing from T on: what a phone would
have sent by then.

Records are the reader's typed frames (``release.read.read_participant``), sent as JSON
rows with the release's column names; polars writes them (shortest round-trip floats), so
the server rebuilds the same frames offline extraction reads.

A batch that fails on the network or with a 5xx is sent again after a pause (doubling up
to a cap), so a server restarted mid-replay picks up where it was: rows it had already
committed come back as duplicates, and are not stored twice. A 4xx is the data's or the
request's fault and stops the replay with the server's own message.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import polars as pl

from kemo_attention.config import DEFAULT_TZ_OFFSET
from kemo_attention.errors import KemoError

RETRY_STATUS = frozenset({500, 502, 503, 504})
FIRST_PAUSE_S = 0.25
MAX_PAUSE_S = 4.0
CSV_COLUMNS = ("pcode", "prompt_time", "prompt_time_local", "probability", "label", "answer", "detail")


class ReplayError(KemoError):
    """The replay cannot go on: server unreachable, token refused, data refused."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status that stopped it, if any


# ------------------------------------------------------------------------- the plan
@dataclass
class Prompt:
    at_ms: int  # the scheduled prompt time T
    answer: float | None  # the label item's value given to it (None: left empty)


@dataclass
class ParticipantPlan:
    """What one participant's devices would send, read once from the release."""

    pcode: str
    tables: dict[str, pl.DataFrame]  # each sorted by timestamp (stable)
    times: dict[str, np.ndarray]  # the tables' timestamps, for slicing by time
    profile: dict | None
    answers: list[dict]  # EsmResponse rows (release columns), by response time
    prompts: list[Prompt]  # by prompt time

    @property
    def rows(self) -> int:
        return int(sum(t.height for t in self.tables.values()))

    def span(self) -> tuple[int, int] | None:
        """First and last data time (records, prompts, answers), epoch ms."""
        points = [int(a[0]) for a in self.times.values() if len(a)] + [int(a[-1]) for a in self.times.values() if len(a)]
        points += [p.at_ms for p in self.prompts] + [int(a["responseTime"]) for a in self.answers]
        return (min(points), max(points)) if points else None


def _jsonable(value):
    if isinstance(value, float) and value != value:
        return None
    return value


def plan_participant(layout, pcode: str, esm: pl.DataFrame | None, userinfo: pl.DataFrame | None,
                     label_name: str = "attention") -> ParticipantPlan:
    """Read one participant's files into a :class:`ParticipantPlan`."""
    from kemo_attention.release.read import read_participant

    data = read_participant(layout, pcode)
    tables, times = {}, {}
    for name, frame in data.tables.items():
        if frame.height == 0:
            continue
        frame = frame.sort("timestamp", maintain_order=True)
        tables[name] = frame
        times[name] = frame.get_column("timestamp").to_numpy()
    profile = None
    if userinfo is not None and userinfo.height:
        rows = userinfo.filter(pl.col("pcode") == pcode).to_dicts()
        if rows:
            profile = {k: _jsonable(v) for k, v in rows[0].items() if k != "pcode"}
    answers: list[dict] = []
    prompts: list[Prompt] = []
    if esm is not None and esm.height:
        mine = esm.filter(pl.col("pcode") == pcode).with_row_index("_row")
        for row in mine.sort(["responseTime", "_row"]).iter_rows(named=True):
            answers.append({k: _jsonable(v) for k, v in row.items() if k != "_row"})
        scheduled = mine.filter(pl.col("scheduledTime").is_not_null()).sort(["scheduledTime", "_row"])
        for row in scheduled.iter_rows(named=True):
            value = row.get(label_name)
            prompts.append(Prompt(int(row["scheduledTime"]), None if value is None else float(value)))
    return ParticipantPlan(pcode, tables, times, profile, answers, prompts)


@dataclass(order=True)
class Event:
    at_ms: int
    order: int  # at equal times: the prompt first (its features end at T - 1 ms), then answers
    kind: str = field(compare=False)
    payload: object = field(compare=False, default=None)


def schedule(plan: ParticipantPlan, batch_ms: int) -> list[tuple[str, int, int, object]]:
    """The replay as a list of steps ``(kind, start_ms, end_ms, payload)``, in send order.

    ``records`` steps cover the data-time interval [start, end): consecutive intervals,
    cut at every ``batch_ms`` boundary (aligned to multiples of it) and at every prompt and
    answer time; empty ones are left out. ``prompt`` and ``answer`` steps have start = end =
    their time. Every record is in exactly one ``records`` step.
    """
    if batch_ms <= 0:
        raise ReplayError(f"the batch length must be positive; got {batch_ms} ms")
    span = plan.span()
    if span is None:
        return []
    first, last = span
    events = [Event(p.at_ms, 0, "prompt", p) for p in plan.prompts]
    events += [Event(int(a["responseTime"]), 1, "answer", a) for a in plan.answers]
    events.sort()
    steps: list[tuple[str, int, int, object]] = []
    cursor = first
    tick = (first // batch_ms + 1) * batch_ms

    def records_until(end: int) -> None:
        nonlocal cursor, tick
        while cursor < end:
            nxt = _next_time(plan, cursor)
            if nxt is None or nxt >= end:  # nothing left to send before ``end``
                cursor = end
                return
            if nxt >= tick:  # jump over empty stretches (nights) instead of walking each boundary
                tick = (nxt // batch_ms + 1) * batch_ms
                cursor = nxt
            stop = min(tick, end)
            steps.append(("records", cursor, stop, None))  # holds the row at ``nxt`` at least
            cursor = stop
            if cursor == tick:
                tick += batch_ms

    for event in events:
        records_until(event.at_ms)
        steps.append((event.kind, event.at_ms, event.at_ms, event.payload))
    records_until(last + 1)
    return steps


def _next_time(plan: ParticipantPlan, at: int) -> int | None:
    """The first record time at or after ``at`` (None: no more records)."""
    best = None
    for t in plan.times.values():
        i = int(np.searchsorted(t, at, "left"))
        if i < len(t) and (best is None or t[i] < best):
            best = int(t[i])
    return best


def records_body(plan: ParticipantPlan, start: int, end: int) -> tuple[bytes, int]:
    """The JSON body of the records in [start, end), and how many rows it holds."""
    parts, rows = [], 0
    for name, t in plan.times.items():
        lo, hi = int(np.searchsorted(t, start, "left")), int(np.searchsorted(t, end, "left"))
        if hi > lo:
            parts.append(f'"{name}":' + plan.tables[name].slice(lo, hi - lo).write_json())
            rows += hi - lo
    return ('{"records":{' + ",".join(parts) + "}}").encode(), rows


# ----------------------------------------------------------------------- the client
class LiveClient:
    """The live endpoints over HTTP, with retries of network errors and 5xx."""

    def __init__(self, url: str, token: str | None = None, *, retries: int = 8, timeout: float = 120.0,
                 sleep: Callable[[float], None] = time.sleep):
        import httpx

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self.retries = retries
        self.sleep = sleep
        self.retried = 0  # requests sent again after a failure, over the whole replay

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "LiveClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, *, what: str, refusable: bool = False, **kwargs) -> dict:
        """One request, sent again after network errors and 5xx (pauses doubling up to
        MAX_PAUSE_S). A 4xx raises :class:`ReplayError` with the server's detail, except
        when ``refusable``: then ``{"refused": status, "detail": ...}`` is returned."""
        import httpx

        pause = FIRST_PAUSE_S
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if last:
                    raise ReplayError(
                        f"{what}: server at {self.url} unreachable ({type(exc).__name__}: {exc or 'no detail'}) "
                        f"after {self.retries + 1} attempts; is `kemo-attention serve BUNDLE --store PATH` running there?"
                    ) from None
            else:
                status = response.status_code
                if status < 400:
                    return response.json() if response.content else {}
                detail = _detail(response)
                if status == 401:
                    raise ReplayError(f"{what}: the server refused the token (401: {detail}); pass the server's token with --token or KEMO_API_TOKEN", 401)
                if status == 403:  # a participant token: replay also reads what only the admin token may
                    raise ReplayError(f"{what}: the token does not cover this route (403: {detail}); replay with the server's "
                                      "admin token (--token or KEMO_API_TOKEN)", 403)
                if status not in RETRY_STATUS:
                    if refusable and 400 <= status < 500:
                        return {"refused": status, "detail": detail}
                    raise ReplayError(f"{what}: the server refused it ({status}): {detail}", status)
                if last:
                    raise ReplayError(f"{what}: server error {status} after {self.retries + 1} attempts: {detail}")
            self.retried += 1
            self.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
        raise AssertionError("unreachable")  # pragma: no cover

    # the endpoints
    def model(self) -> dict:
        return self.request("GET", "/model", what="GET /model")

    def put_profile(self, pcode: str, profile: dict) -> dict:
        return self.request("PUT", f"/participants/{pcode}/profile", json={"profile": profile}, what=f"{pcode}: profile")

    def post_records(self, pcode: str, body: bytes, what: str) -> dict:
        return self.request("POST", f"/participants/{pcode}/records", content=body,
                            headers={"Content-Type": "application/json"}, what=what)

    def post_answers(self, pcode: str, answers: list[dict]) -> dict:
        return self.request("POST", f"/participants/{pcode}/answers", json={"answers": answers}, what=f"{pcode}: answers")

    def prediction(self, pcode: str, at_ms: int) -> dict:
        return self.request("GET", f"/participants/{pcode}/prediction", params={"at": at_ms},
                            what=f"{pcode}: prediction at {at_ms}", refusable=True)

    def summary(self, pcode: str) -> dict:
        return self.request("GET", f"/participants/{pcode}", what=f"{pcode}: summary")


def _detail(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, list):  # FastAPI's validation errors: name the field
            detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail if isinstance(d, dict))
        extra = f" (request id {body['request_id']})" if isinstance(body.get("request_id"), str) else ""
        return f"{detail}{extra}"
    return str(body)


# ------------------------------------------------------------------------- the run
@dataclass
class ParticipantOutcome:
    pcode: str
    rows_sent: int = 0
    stored: int = 0
    duplicates: int = 0
    too_old: int = 0  # rows older than the window the server keeps: not stored (a replay over old data)
    batches: int = 0
    answers_sent: int = 0
    answers_duplicate: int = 0
    seconds: float = 0.0
    predictions: list[dict] = field(default_factory=list)  # one per prompt: the csv rows
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return sum(1 for p in self.predictions if p["probability"] is None)


def _count(value) -> int:
    if isinstance(value, dict):
        return int(sum(int(v) for v in value.values()))
    return int(value or 0)


def replay_participant(client: LiveClient, plan: ParticipantPlan, *, batch_ms: int, speed: float = 0.0,
                       on_rows: Callable[[int], None] | None = None,
                       on_step: Callable[[str, dict], None] | None = None) -> ParticipantOutcome:
    """Send one participant's plan; returns what the server answered.

    ``speed`` 0 sends as fast as the server takes it; N > 0 paces the data clock at N times
    real time. ``on_rows`` is told how many rows each batch carried (progress bars);
    ``on_step`` gets each step's kind and the server's JSON (benchmarks).
    """
    out = ParticipantOutcome(plan.pcode)
    began = time.perf_counter()
    if plan.profile is not None:
        client.put_profile(plan.pcode, plan.profile)
    steps = schedule(plan, batch_ms)
    data_start = steps[0][1] if steps else 0
    for kind, start, end, payload in steps:
        if speed > 0:
            due = began + (start - data_start) / 1000.0 / speed
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        if kind == "records":
            for reply, rows in _send_records(client, plan, start, end):
                out.rows_sent += rows
                out.batches += 1
                out.stored += _count(reply.get("stored"))
                out.duplicates += _count(reply.get("duplicates"))
                out.too_old += _count(reply.get("too_old"))
                if on_rows:
                    on_rows(rows)
        elif kind == "answer":
            reply = client.post_answers(plan.pcode, [payload])
            out.answers_sent += 1
            out.answers_duplicate += _count(reply.get("duplicates"))
        else:
            prompt: Prompt = payload
            t0 = time.perf_counter()
            reply = client.prediction(plan.pcode, prompt.at_ms)
            out.latencies_ms.append((time.perf_counter() - t0) * 1000)
            refused = "refused" in reply
            out.predictions.append({
                "pcode": plan.pcode,
                "prompt_time": prompt.at_ms,
                "probability": None if refused else float(reply["probability"]),
                "label": None if refused else int(reply["label"]),
                "answer": prompt.answer,
                "detail": f"refused ({reply['refused']}): {reply['detail']}" if refused else "; ".join(reply.get("warnings") or []),
            })
        if on_step:
            on_step(kind, reply)
    out.seconds = time.perf_counter() - began
    return out


def _send_records(client: LiveClient, plan: ParticipantPlan, start: int, end: int):
    """POST the records of [start, end); a batch over the server's body limit (413) is sent
    as two halves of its time span instead (recursively). Yields (reply, rows) per request."""
    body, rows = records_body(plan, start, end)
    try:
        yield client.post_records(plan.pcode, body, what=f"{plan.pcode}: records [{start}, {end})"), rows
    except ReplayError as err:
        if err.status != 413 or end - start < 2:
            raise
        middle = start + (end - start) // 2
        for part in ((start, middle), (middle, end)):
            if records_body(plan, *part)[1]:
                yield from _send_records(client, plan, *part)


def write_csv(path: Path, outcomes: Iterable[ParticipantOutcome], tz_offset: str = DEFAULT_TZ_OFFSET) -> Path:
    """replay.csv: one row per scheduled prompt, written under a temporary name then renamed."""
    import pandas as pd

    from kemo_attention.config import parse_tz_offset
    from kemo_attention.files import atomic_write

    rows = [p for o in outcomes for p in o.predictions]
    frame = pd.DataFrame(rows, columns=[c for c in CSV_COLUMNS if c != "prompt_time_local"])
    local = pd.to_datetime(frame["prompt_time"].astype("int64"), unit="ms", utc=True).dt.tz_convert(parse_tz_offset(tz_offset))
    frame.insert(2, "prompt_time_local", local.map(lambda t: t.isoformat()))
    frame["label"] = frame["label"].astype("Int64")
    return atomic_write(Path(path), lambda f: f.write(frame.to_csv(index=False).encode()))


def compare_offline(rows: list[dict], features_path: Path, bundle_path: Path) -> dict:
    """Offline probabilities for the replayed prompts, from the extracted features and the
    bundle, and the largest absolute difference from the served ones.

    Prompts are matched by participant and prompt time (the dataset's ``date_times`` are
    the prompt times). Prompts the dataset lacks (e.g. a participant with too few answers
    to be extracted) are counted as unmatched.
    """
    import pandas as pd

    from kemo_attention.bundle.runtime import load_bundle
    from kemo_attention.dataset import load_dataset

    dataset = load_dataset(features_path)
    if dataset.date_times is None:
        raise ReplayError(f"{features_path}: the feature file has no date_times, so its rows cannot be matched to prompt times")
    bundle = load_bundle(bundle_path)
    stamps = pd.DatetimeIndex(pd.to_datetime(list(dataset.date_times), utc=True))
    prompt_ms = stamps.as_unit("ms").asi8.astype(np.int64)  # whatever unit pandas stored them in
    index: dict[tuple[str, int], int] = {}
    for i, (g, t) in enumerate(zip(dataset.group, prompt_ms)):
        index.setdefault((str(g), int(t)), i)
    served, positions = [], []
    unmatched = 0
    for row in rows:
        if row["probability"] is None:
            continue
        i = index.get((row["pcode"], int(row["prompt_time"])))
        if i is None:
            unmatched += 1
            continue
        served.append(row["probability"])
        positions.append(i)
    if not positions:
        return {"matched": 0, "unmatched": unmatched, "max_abs_diff": None}
    offline = bundle.predict_proba(dataset.X.iloc[positions])
    diffs = np.abs(np.asarray(served) - offline)
    worst = int(np.argmax(diffs))
    return {
        "matched": len(positions),
        "unmatched": unmatched,
        "max_abs_diff": float(diffs.max()),
        "worst_prompt": {"pcode": str(dataset.group[positions[worst]]), "prompt_time": int(prompt_ms[positions[worst]])},
    }


def load_release_subjects(layout):
    """The release's EsmResponse and UserInfo frames (None when a file is absent)."""
    from kemo_attention.release.read import read_esm, read_userinfo

    esm = read_esm(layout.esm_path) if layout.esm_path is not None else None
    userinfo = read_userinfo(layout.userinfo_path) if layout.userinfo_path is not None else None
    return esm, userinfo


def choose_participants(layout, wanted: str | None) -> list[str]:
    """``P01,P02`` -> those codes, checked against the release's folders; None -> all."""
    known = list(layout.participants)
    if not wanted:
        return known
    codes = [c.strip() for c in wanted.split(",") if c.strip()]
    missing = [c for c in codes if c not in layout.participants]
    if missing:
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
        raise ReplayError(f"--participants: {', '.join(missing)} not in {layout.root}/Sensor (found: {shown or 'none'})")
    return codes


def dumps(obj) -> str:
    return json.dumps(obj, indent=1, default=str)


def run_replay(release, *, url: str, participants: str | None = None, batch_ms: int = 60_000, speed: float = 0.0,
               token: str | None = None, out: Path | None = Path("replay.csv"), compare: Path | None = None,
               bundle: Path | None = None, retries: int = 8, console=None, progress: bool = True) -> dict:
    """The whole replay behind ``kemo-attention replay``: returns a summary dict (the
    outcomes, the csv path, the comparison) and prints a progress bar and a final table."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from kemo_attention.release.layout import find_release

    console = console or Console(stderr=True)
    layout = find_release(release)
    codes = choose_participants(layout, participants)
    if not codes:
        raise ReplayError(f"{layout.root}: no participant folders under Sensor/ to replay")
    esm, userinfo = load_release_subjects(layout)
    outcomes: list[ParticipantOutcome] = []
    with LiveClient(url, token, retries=retries) as client:
        model = client.model()  # reachable, and which model answers
        label_name = str((model.get("label") or {}).get("name") or "attention")
        tz_offset = str((model.get("feature_settings") or {}).get("tz_offset") or DEFAULT_TZ_OFFSET)
        if model.get("feature_mode") not in (None, "causal"):
            console.print(f"[yellow]warning:[/yellow] the server's bundle has feature mode {model.get('feature_mode')!r}; live serving needs a causal one")
        console.print(f"replaying {len(codes)} participant(s) of {layout.root} to {client.url} "
                      f"(model {model.get('model')}, batches of {batch_ms / 1000:g} s, speed {'max' if speed == 0 else f'{speed:g}x'})")
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
            for pcode in codes:
                task = bar.add_task(f"{pcode} reading", total=None)
                plan = plan_participant(layout, pcode, esm, userinfo, label_name)
                bar.update(task, total=plan.rows, description=f"{pcode} {len(plan.prompts)} prompts")
                outcome = replay_participant(client, plan, batch_ms=batch_ms, speed=speed,
                                             on_rows=lambda n, task=task: bar.advance(task, n))
                bar.update(task, completed=plan.rows)
                outcomes.append(outcome)
        retried = client.retried
    rows = [p for o in outcomes for p in o.predictions]
    summary: dict = {"outcomes": outcomes, "retried": retried, "csv": None, "compare": None}
    if out is not None:
        summary["csv"] = write_csv(out, outcomes, tz_offset)
    if compare is not None and bundle is not None:
        summary["compare"] = compare_offline(rows, compare, bundle)
    _print_table(console, outcomes, summary)
    return summary


def _print_table(console, outcomes: list[ParticipantOutcome], summary: dict) -> None:
    """One table row per participant; one line each when the terminal is too narrow for it."""
    from rich.table import Table

    columns = ("participant", "rows sent", "stored", "duplicates", "too old", "batches", "answers", "prompts", "refused",
               "focused", "mean p", "p50 ms", "rows/s")
    rows = []
    for o in outcomes:
        probs = [p["probability"] for p in o.predictions if p["probability"] is not None]
        rows.append((
            o.pcode, f"{o.rows_sent:,}", f"{o.stored:,}", f"{o.duplicates:,}", f"{o.too_old:,}", f"{o.batches:,}",
            f"{o.answers_sent}", f"{len(o.predictions)}", f"{o.refused}", f"{sum(1 for p in o.predictions if p['label'] == 1)}",
            f"{np.mean(probs):.3f}" if probs else "-", f"{np.median(o.latencies_ms):.0f}" if o.latencies_ms else "-",
            f"{o.rows_sent / o.seconds:,.0f}" if o.seconds > 0 else "-",
        ))
    if console.width >= 130:
        table = Table(title="replay")
        for name in columns:
            table.add_column(name, justify="left" if name == "participant" else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    else:
        for row in rows:
            console.print("  ".join(f"{name}: {cell}" if name != "participant" else cell for name, cell in zip(columns, row)),
                          soft_wrap=True)
    if summary["retried"]:
        console.print(f"{summary['retried']} request(s) sent again after a network error or server error")
    if summary["csv"] is not None:
        console.print(f"wrote {summary['csv']}")
    cmp = summary["compare"]
    if cmp is not None:
        if cmp["max_abs_diff"] is None:
            console.print(f"compare: no replayed prompt is in the feature file ({cmp['unmatched']} unmatched)")
        else:
            worst = cmp["worst_prompt"]
            console.print(
                f"compare: {cmp['matched']} prompts matched offline, largest |served - offline| = {cmp['max_abs_diff']:.3g} "
                f"(at {worst['pcode']} {worst['prompt_time']}); {cmp['unmatched']} prompt(s) not in the feature file"
            )
