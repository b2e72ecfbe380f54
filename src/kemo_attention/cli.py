"""``kemo-attention``: one command, one verb per stage. Each verb is a thin function in its
room's ``commands.py``; this module only assembles them and turns errors into one line."""

from __future__ import annotations

import os
import sys

import typer

from kemo_attention import __version__

app = typer.Typer(
    name="kemo-attention",
    help=(
        "Predict attention (focused / not focused) from smartphone and wristband sensing "
        "(K-EmoPhone). Stages: check a release, extract features, evaluate models, export a "
        "bundle, serve it, look at it in a dashboard. `kemo-attention demo` runs them all on "
        "built-in demo data."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kemo-attention {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    if debug:
        os.environ["KEMO_ATTENTION_DEBUG"] = "1"


def _register() -> None:
    from kemo_attention import pipeline
    from kemo_attention.dashboard import commands as dashboard_cmd
    from kemo_attention.demo import commands as demo_cmd
    from kemo_attention.evaluate import commands as evaluate_cmd
    from kemo_attention.features import commands as features_cmd
    from kemo_attention.live import commands as live_cmd
    from kemo_attention.release import commands as release_cmd
    from kemo_attention.serve import commands as serve_cmd

    app.command("demo")(pipeline.demo_command)
    app.command("synth")(demo_cmd.synth)
    app.command("check")(release_cmd.check)
    app.command("extract")(features_cmd.extract)
    app.command("evaluate")(evaluate_cmd.evaluate)
    app.command("export")(serve_cmd.export)
    app.command("serve")(serve_cmd.serve)
    app.command("dashboard")(dashboard_cmd.dashboard)
    app.command("replay")(live_cmd.replay)


_register()


def main() -> None:
    from kemo_attention.errors import KemoError

    try:
        app(standalone_mode=False)
    except KemoError as err:
        if os.environ.get("KEMO_ATTENTION_DEBUG"):
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        sys.exit(err.exit_code)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        if os.environ.get("KEMO_ATTENTION_DEBUG"):
            raise
        typer.secho(f"error: {err}", err=True, fg="red")
        sys.exit(2)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # click usage errors arrive as click exceptions
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise


if __name__ == "__main__":
    main()
