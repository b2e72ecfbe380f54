"""CLI verb(s) of this room (stub until the room is built)."""

import typer


def extract() -> None:
    """Not built yet."""
    typer.echo("not built yet")
    raise typer.Exit(1)
