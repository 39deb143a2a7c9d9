"""What a plan does: the counts and addresses Terraform streams, and what it replaces (`show -json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# `terraform show -json` plan: why a resource is replaced (resource_changes[].action_reason), in words.
_REPLACE_REASONS = {
    "replace_because_cannot_update": "cannot be updated in place",
    "replace_because_tainted": "it is tainted",
    "replace_by_request": "replacement was requested (-replace)",
    "replace_by_triggers": "its replace_triggered_by changed",
}


@dataclass(frozen=True)
class Replacement:
    """A resource the plan destroys and creates again (a new id, its data gone)."""

    address: str
    resource_type: str
    reason: str

    def sentence(self) -> str:
        return f"{self.address} ({self.reason})"


@dataclass
class PlanSummary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    plan_file: str | None = None
    resources: list[str] = field(default_factory=list)
    replaced: list[Replacement] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.add + self.change + self.destroy

    def sentence(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"


def replacements(plan: dict[str, Any]) -> list[Replacement]:
    """The resources a JSON plan destroys and re-creates, with Terraform's reason for each."""
    found = []
    for change in plan.get("resource_changes") or []:
        actions = (change.get("change") or {}).get("actions") or []
        if sorted(actions) != ["create", "delete"]:
            continue
        paths = (change.get("change") or {}).get("replace_paths") or []
        forced_by = ", ".join(_path_text(path) for path in paths if path)
        reason = _REPLACE_REASONS.get(str(change.get("action_reason")), "Terraform replaces it")
        if forced_by:
            reason = f"{forced_by} changed: {reason}"
        found.append(Replacement(str(change.get("address", "?")), str(change.get("type", "")), reason))
    return found


def _path_text(path: Any) -> str:
    """A replace path (["root_block_device", 0, "volume_size"]) as `root_block_device[0].volume_size`."""
    steps = path if isinstance(path, list) else [path]
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def json_type(line: str) -> str | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message.get("type") if isinstance(message, dict) else None


def json_lines(text: str) -> list[dict[str, Any]]:
    messages = []
    for line in text.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages
