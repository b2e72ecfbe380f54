"""``kemo-attention demo``: every stage on built-in demo data (stub)."""

import typer


def demo_command() -> None:
    """Run the whole path on demo data."""
    raise typer.Exit(1)
