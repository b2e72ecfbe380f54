"""CLI verb of the release room: ``kemo-attention check``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kemo_attention.config import DEFAULT_TZ_OFFSET
from kemo_attention.options import (
    DEFAULT_BACKEND,
    BackendOption,
    QuietOption,
    RayAddressOption,
    TzOffsetOption,
    WorkersOption,
    make_executor,
    switch,
)


def check(
    release: Annotated[Path, typer.Argument(metavar="RELEASE", help="Release folder (holds SubjData/ and Sensor/P01/ ...).")],
    as_json: Annotated[bool, switch("--json/--no-json", "Print the report as JSON to stdout instead of tables.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the JSON report to this file (atomically).")] = None,
    tz_offset: TzOffsetOption = DEFAULT_TZ_OFFSET,
    backend: BackendOption = DEFAULT_BACKEND,
    workers: WorkersOption = None,
    ray_address: RayAddressOption = None,
    quiet: QuietOption = False,
) -> None:
    """Check a K-EmoPhone release: files, rows, days and self-reports per participant, and its dirt.

    Exit code 0 when the release is usable (dirt and warnings are reported, not fatal); 2 with
    the error when it is not (no or empty EsmResponse.csv, nobody with enough self-reports, a
    file that cannot be read, times in seconds instead of milliseconds ...).
    """
    import json

    from kemo_attention.errors import DataError
    from kemo_attention.release.check import check_release

    executor = make_executor(backend, workers, ray_address, quiet=quiet)
    report = check_release(release, tz_offset=tz_offset, executor=executor)
    payload = report.to_dict()
    if out is not None:
        from kemo_attention.files import atomic_write

        text = json.dumps(payload, indent=1, ensure_ascii=False)
        atomic_write(Path(out), lambda f: f.write(text.encode("utf-8")))
    if as_json:
        typer.echo(json.dumps(payload, indent=1, ensure_ascii=False))
        for warning in report.summary.get("warnings", []):  # stdout holds the JSON: warnings go to stderr
            typer.echo(f"warning: {warning}", err=True)
    else:
        render_report(report)
    if not report.usable:
        errors = report.summary["fatal_errors"]
        more = f" (and {len(errors) - 1} more fatal error(s); see the report)" if len(errors) > 1 else ""
        raise DataError(f"release not usable: {errors[0]}{more}")


def render_report(report) -> None:
    """The per-participant table and the summary, with rich."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)  # summary lines are not cut at 80 columns when piped
    s = report.summary
    # No vertical rules: the table fits 80 columns (a pipe or CI log) without cutting dates.
    table = Table(title=f"Release {report.root}", box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False,
                  caption="ESM = all self-reports, sched. = scheduled ones")
    for name, justify in (("pcode", "left"), ("files", "right"), ("rows", "right"), ("first day", "left"),
                          ("last day", "left"), ("days", "right"), ("ESM", "right"), ("sched.", "right"),
                          ("problems", "right")):
        table.add_column(name, justify=justify, no_wrap=True)
    for p in report.participants:
        sched = str(p["scheduled_responses"])
        if p["scheduled_responses"] < s["min_responses"]:
            sched = f"[yellow]{sched}[/]"
        problems = "[red]FATAL[/]" if p["fatal"] else (f"{p['problems']:,}" if p["problems"] else "")
        table.add_row(p["pcode"], f"{p['files']}/27", f"{p['rows']:,}", p["first_day"] or "-", p["last_day"] or "-",
                      str(p["days"]), str(p["esm_responses"]), sched, problems)
    console.print(table)
    console.print(
        f"participants: {s['participants']} with sensor folders, {s['participants_with_data']} with data; "
        f"[bold]{s['participants_min_responses']}[/] with >= {s['min_responses']} scheduled responses\n"
        f"self-reports: {s['esm_responses']:,} ({s['scheduled_responses']:,} scheduled, {s['voluntary_responses']:,} voluntary) "
        f"from {s['esm_participants']} participants\n"
        f"sensor rows: {s['total_rows']:,}; days: {s['first_day']} .. {s['last_day']} (local, {s['tz_offset']})"
    )
    if s["esm_only_participants"]:
        console.print(f"self-reports but no sensor folder: {', '.join(s['esm_only_participants'])}")
    if s["problems_by_kind"]:
        kinds = ", ".join(f"{k} {v:,}" for k, v in s["problems_by_kind"].items())
        console.print(f"problems ({s['problem_records']} records): {kinds}")
    else:
        console.print("problems: none")
    for warning in s.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    for err in s["fatal_errors"]:
        console.print(f"[red]fatal:[/] {err}")
    console.print("[green]usable[/]" if report.usable else "[red]not usable[/]")
