"""Output: rich text for people, exactly one JSON document on stdout for `--output json`.

Library code never prints; the CLI hands results (dataclasses or dicts) to `emit` and errors to `fail`.
Progress and notices go to stderr so stdout stays data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from migrator.errors import MigratorError

if TYPE_CHECKING:
    from rich.console import Console

    from migrator.lifecycle.results import ProgressCallback


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


_format = OutputFormat.text


def set_format(fmt: OutputFormat | str) -> None:
    global _format
    _format = OutputFormat(fmt)


def is_json() -> bool:
    return _format is OutputFormat.json


def _console(stderr: bool) -> Console:
    from rich.console import Console

    # stderr carries one-line messages (errors, warnings, summaries): never wrap them at the terminal width.
    return Console(
        stderr=stderr, no_color="NO_COLOR" in os.environ or None, highlight=False, soft_wrap=stderr
    )


def stdout_console() -> Console:
    return _console(stderr=False)


def stderr_console() -> Console:
    return _console(stderr=True)


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


def emit(result: Any, human: Callable[[Console], None] | None = None) -> None:
    """Print a command's result: JSON on stdout, or the human rendering."""
    if is_json():
        sys.stdout.write(json.dumps(to_jsonable(result), sort_keys=False) + "\n")
        sys.stdout.flush()
    elif human is not None:
        human(stdout_console())


def emit_line(result: Any) -> None:
    """One JSON object per line, for `--watch` streams."""
    sys.stdout.write(json.dumps(to_jsonable(result)) + "\n")
    sys.stdout.flush()


def notice(message: str) -> None:
    """A progress or status line for people (stderr; silent in JSON mode)."""
    if not is_json():
        stderr_console().print(message)


def warn(message: str) -> None:
    """A warning always reaches stderr, even in JSON mode: a warning must never be silent."""
    stderr_console().print(f"[yellow]warning:[/yellow] {message}")


def fail(err: MigratorError) -> None:
    """Report an error: one line on stderr; in JSON mode also the error document on stdout."""
    if is_json():
        sys.stdout.write(json.dumps({"ok": False, "error": err.to_dict()}) + "\n")
        sys.stdout.flush()
    sys.stderr.write(f"error: {err.one_line()}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def progress(description: str, total: int | None = None) -> Iterator[ProgressCallback]:
    """A rich progress bar with ETA on stderr when it is a terminal (and not JSON mode); else a no-op."""
    if is_json() or not sys.stderr.isatty():

        def ignore(advance: int, new_total: int | None = None) -> None:
            return None

        yield ignore
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=stderr_console(), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(by: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.advance(task, by)

        yield advance


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Any:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    return t
