"""Placeholder: commands are registered here by their owner."""

from __future__ import annotations

import typer


def register(*apps: typer.Typer) -> None:
    """Add this module's commands to the given apps."""
