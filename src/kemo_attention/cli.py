"""``kemo-attention``: one command, one verb per stage. Each verb is a thin function in its
room's ``commands.py``; this module only assembles them and turns errors into one line.

How it ends, whatever happens (``main``):
- a usage mistake (unknown verb or option, missing argument, a value of the wrong type or out
  of range): one ``error:`` line, the verb's usage, exit 2;
- an error of the tool's own (:class:`~kemo_attention.errors.KemoError`): one line, its exit code;
- Ctrl-C: "interrupted; rerun to resume", exit 130 (as shells report SIGINT);
- ``--debug`` (anywhere on the line): the full traceback instead of the one line.
"""

from __future__ import annotations

import os
import sys
import threading

import typer

from kemo_attention import __version__

try:  # typer >= 0.20 bundles its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

PROG = "kemo-attention"
DEBUG_ENV = "KEMO_ATTENTION_DEBUG"
DEBUG_FLAG = "--debug"
INTERRUPTED = "interrupted; rerun to resume"
EXIT_GRACE_SECONDS = 5.0  # after Ctrl-C, the longest the interpreter may take to wind down

app = typer.Typer(
    name=PROG,
    help=(
        "Predict attention (focused / not focused) from smartphone and wristband sensing "
        "(K-EmoPhone). Stages: check a release, extract features, evaluate models, run a study across "
        "self-reports, export a "
        "bundle, serve it (`tokens`: a credential per participant), look at it in a dashboard. "
        "`kemo-attention demo` runs them all on "
        "built-in demo data."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, DEBUG_FLAG, metavar="", help="Show full tracebacks on errors (may go anywhere on the line)."),
    version: bool = typer.Option(False, "--version", metavar="", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _register() -> None:
    from kemo_attention.demo import run as demo_run
    from kemo_attention.bundle import commands as bundle_cmd
    from kemo_attention.dashboard import commands as dashboard_cmd
    from kemo_attention.demo import commands as demo_cmd
    from kemo_attention.evaluate import commands as evaluate_cmd
    from kemo_attention.features import commands as features_cmd
    from kemo_attention.live import commands as live_cmd
    from kemo_attention.release import commands as release_cmd
    from kemo_attention.serve import commands as serve_cmd
    from kemo_attention.study import commands as study_cmd

    app.command("demo")(demo_run.demo_command)
    app.command("synth")(demo_cmd.synth)
    app.command("check")(release_cmd.check)
    app.command("extract")(features_cmd.extract)
    app.command("evaluate")(evaluate_cmd.evaluate)
    app.command("study")(study_cmd.study)
    app.command("export")(bundle_cmd.export)
    app.command("serve")(serve_cmd.serve)
    app.command("dashboard")(dashboard_cmd.dashboard)
    app.command("replay")(live_cmd.replay)
    app.command("store-export")(live_cmd.store_export)
    app.add_typer(live_cmd.tokens_app, name="tokens")


_register()


def _take_debug_flag(args: list[str]) -> tuple[list[str], bool]:
    """Remove every ``--debug`` before a ``--`` (it is global, so it may follow the verb)."""
    end = args.index("--") if "--" in args else len(args)
    kept = [a for a in args[:end] if a != DEBUG_FLAG]
    return kept + args[end:], len(kept) < end


def _plain_help_flags(command) -> None:
    """``--help`` is a flag like the others: no ``<bool>`` type beside it in the help."""
    commands = [command, *getattr(command, "commands", {}).values()]
    for cmd in commands:
        option = cmd.get_help_option(cmd.context_class(cmd, info_name=cmd.name))
        if option is not None:
            option.metavar = ""


def _usage_error(err: UsageError, command) -> int:
    """One ``error:`` line, then the usage of the verb the mistake was made in; exit 2."""
    ctx = err.ctx
    if isinstance(err, NoArgsIsHelpError) or ctx is None:
        ctx = ctx or command.context_class(command, info_name=PROG)
        verbs = ", ".join(getattr(ctx.command, "commands", {}))
        message = f"no verb given; one of: {verbs}" if verbs else "missing arguments"
    else:  # typer words a refused choice "Value error, 'x' is not one of ..."
        message = err.format_message().replace("Value error, ", "")
    typer.secho(f"error: {message}", err=True, fg="red")
    typer.echo(ctx.get_usage(), err=True)
    typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
    return 2


def run(args: list[str]) -> int:
    """Run the command line ``args`` (without the program name); return the exit code."""
    from kemo_attention.errors import KemoError

    debug = bool(os.environ.get(DEBUG_ENV))
    command = typer.main.get_command(app)
    _plain_help_flags(command)
    try:
        with command.make_context(PROG, list(args)) as ctx:
            command.invoke(ctx)
        return 0
    except typer.Exit as done:  # --help, --version, or a verb that chose its exit code
        return done.exit_code
    except UsageError as err:
        return _usage_error(err, command)
    except ClickException as err:  # e.g. a file option click could not open
        typer.secho(f"error: {err.format_message()}", err=True, fg="red")
        return err.exit_code
    except (KeyboardInterrupt, typer.Abort):
        if debug:
            raise
        typer.secho(f"\n{INTERRUPTED}", err=True, fg="yellow")
        return 130
    except KemoError as err:
        if debug:
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        return err.exit_code
    except BrokenPipeError:  # `kemo-attention extract --help | head`: the reader left; nothing to say
        _silence_stdout()
        return 0
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as err:
        if debug:
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> None:
    """The console script: run ``sys.argv`` (or ``argv``) and exit with its code."""
    args, debug = _take_debug_flag(list(sys.argv[1:] if argv is None else argv))
    if debug:
        os.environ[DEBUG_ENV] = "1"
    code = run(args)
    if code == 130:
        _leave_after_interrupt()
    sys.exit(code)


def _leave_after_interrupt() -> None:
    """Make sure an interrupted run ends: exit normally, but never wait more than a few seconds.

    A worker process ended while it was sending its result can leave the process pool's
    manager thread waiting forever for the rest of that message, and the interpreter joins that
    thread before exiting (seen, rarely: a hang after "interrupted"). A daemon timer keeps
    running through those joins and ends the process if they take too long. Nothing is lost:
    outputs and cache entries are written to temporary names and renamed, and every `finally`
    block has already run on the way out of ``run``."""
    timer = threading.Timer(EXIT_GRACE_SECONDS, _exit_now, args=(130,))
    timer.daemon = True
    timer.start()


def _exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
