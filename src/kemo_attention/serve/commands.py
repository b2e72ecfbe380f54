"""CLI verbs of this room (stub until the room is built)."""

import typer


def export() -> None:
    """Not built yet."""
    raise typer.Exit(1)


def serve() -> None:
    """Not built yet."""
    raise typer.Exit(1)
