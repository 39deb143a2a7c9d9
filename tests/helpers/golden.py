"""Golden JSON shapes (tests/golden/*.json): a document's keys, recursively; values vary, keys may not.

A list of objects is the shape of its first item; other lists, and maps keyed by data such as metrics per
node, are just "list" / "map". Regenerate on purpose with MIGRATOR_WRITE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

DATA_KEYED = {"metrics", "by_type", "shards"}


def shape(document: Any) -> Any:
    if isinstance(document, dict):
        return {key: "map" if key in DATA_KEYED else shape(value) for key, value in document.items()}
    if isinstance(document, list):
        return [shape(document[0])] if document and isinstance(document[0], dict) else "list"
    return None


def assert_golden(name: str, document: Any) -> None:
    path = GOLDEN / f"{name}.json"
    found = shape(document)
    if os.environ.get("MIGRATOR_WRITE_GOLDEN"):
        path.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    assert found == json.loads(path.read_text()), f"{name}: the JSON shape changed (see {path})"
