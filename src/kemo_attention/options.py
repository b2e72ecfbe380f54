"""Command-line options that several verbs share, declared once with one meaning and one default.

Each verb's ``commands.py`` annotates its parameters with these types, so ``--backend`` or
``--workers`` reads and behaves the same in ``demo``, ``check``, ``extract`` and ``evaluate``.
Option *defaults* live in the verb's signature (``backend: BackendOption = Backend.processes``);
the shared defaults are the constants below, so every verb uses the same one.

Nothing heavy is imported here: ``kemo-attention --help`` must stay fast.
"""

from __future__ import annotations

import enum
from typing import Annotated, Optional

import typer



class Backend(str, enum.Enum):
    """Where the tasks of a verb run (one task per participant, or per model and fold)."""

    serial = "serial"
    processes = "processes"
    ray = "ray"


class ModelName(str, enum.Enum):
    """The models of the zoo (``models.zoo.MODEL_NAMES``; a test keeps the two equal)."""

    logreg = "logreg"
    rf = "rf"
    lgbm = "lgbm"
    voting = "voting"
    evxgb = "evxgb"
    dummy = "dummy"


# The shared defaults: one value each, whichever verb takes the option.
DEFAULT_BACKEND = Backend.processes
DEFAULT_DEMO_SEED = 0
DEFAULT_HOST = "127.0.0.1"


def switch(decls: str, help: str):
    """An on/off ``--name/--no-name`` flag, shown without a ``<bool>`` type in --help."""
    return typer.Option(decls, metavar="", help=help)


# ---------------------------------------------------------------- parallel tasks
BackendOption = Annotated[
    Backend,
    typer.Option(
        "--backend",
        help="Where tasks run: serial (one after another in this process), processes (local "
        "worker processes), ray (a Ray cluster, see --ray-address). Results are the same on each.",
    ),
]
WorkersOption = Annotated[
    Optional[int],
    typer.Option(
        "--workers", "-j", min=1, show_default="all cores",
        help="Tasks run at once (processes, or Ray CPUs for a local Ray). 1 runs them in this process.",
    ),
]
RayAddressOption = Annotated[
    Optional[str],
    typer.Option(
        "--ray-address",
        help="Join this Ray cluster (else RAY_ADDRESS, else a local Ray on loopback). Needs --backend ray.",
    ),
]
QuietOption = Annotated[bool, switch("--quiet/--no-quiet", "No progress bars.")]


def make_executor(backend: Backend, workers: Optional[int], ray_address: Optional[str] = None, *, quiet: bool = False):
    """The executor the options describe. ``--workers 1`` with processes runs in this process:
    one worker process would only add its start-up time."""
    from kemo_attention.compute import Executor

    name = Backend(backend).value
    if name == Backend.processes.value and workers == 1 and not ray_address:
        name = Backend.serial.value
    return Executor(name, workers=workers, ray_address=ray_address, progress=not quiet)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- data
TzOffsetOption = Annotated[
    str,
    typer.Option("--tz-offset", help="Local time as a fixed UTC offset, for days and hours (K-EmoPhone: +09:00)."),
]


def _check_models(value: str) -> str:
    """``all`` or a comma list of model names; a usage error names the unknown ones."""
    names = [m.strip() for m in value.split(",") if m.strip()]
    known = [m.value for m in ModelName]
    unknown = [m for m in names if m not in known and m != "all"]
    if unknown or not names or ("all" in names and len(names) > 1):
        shown = ", ".join(map(repr, unknown)) if unknown else repr(value)
        raise typer.BadParameter(f"unknown model(s) {shown}; expected all, or a comma list of {', '.join(known)}")
    return ",".join(names)


ModelsOption = Annotated[
    str,
    typer.Option(
        "--models", callback=_check_models, metavar="all|NAME,NAME...",
        help=f"Models to evaluate: all, or a comma list of {', '.join(m.value for m in ModelName)} "
        "(the dummy floor is always added).",
    ),
]
ModelOption = Annotated[ModelName, typer.Option("--model", help="Model to fit.")]

# ----------------------------------------------------------------- demo data
ParticipantsOption = Annotated[
    Optional[int],
    typer.Option("--participants", min=1, show_default="the demo size", help="Demo participants."),
]
DaysOption = Annotated[
    Optional[int],
    typer.Option("--days", min=1, show_default="the demo size", help="Study days per participant."),
]
ScaleOption = Annotated[
    Optional[float],
    typer.Option(
        "--scale", show_default="the demo size",
        help="Sampling-rate multiplier of the dense band streams; 1.0 = as in the release.",
    ),
]
DemoSeedOption = Annotated[
    int, typer.Option("--seed", min=0, help="Seed of the demo data: the same seed writes the same bytes.")
]

# ----------------------------------------------------------------- servers
HostOption = Annotated[
    str,
    typer.Option("--host", help="Address to listen on (127.0.0.1 = this machine only; 0.0.0.0 = every network)."),
]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]
BundleSha256Option = Annotated[
    Optional[str],
    typer.Option(
        "--sha256", envvar="KEMO_BUNDLE_SHA256",
        help="The bundle file's expected SHA-256 (64 hex characters, as `sha256sum` prints it), from a place you "
             "trust: any other file is refused, even one whose manifest matches it (whoever can replace the file "
             "can replace the manifest beside it).",
    ),
]
