"""Diff local definitions against a CRM's and decide, per property, what a sync does.

Pure logic over RemoteProperty values: no database, no HTTP. The services read the CRM
once (one list call per object type), hand both sides here, then carry out the plan.

Decisions:
- create: the CRM has no property of that name;
- update: it has one, ours to manage, that differs (the differences are listed);
- skip: it matches, or the CRM defines it itself (never touched);
- refused: the change is one the CRM does not allow (a type change, or a rename of a
  property the CRM already has under another name); reported, never attempted.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.connectors.base import RemoteProperty
from properties import rules

CREATE = "create"
UPDATE = "update"
SKIP = "skip"
REFUSED = "refused"

# Fields a sync compares. A CRM that does not report a field (Brevo has no labels or
# groups) leaves it empty in its RemoteProperty, and an empty remote value is not a difference.
COMPARED_FIELDS = ("label", "field_type", "group_name", "description", "options")


@dataclass
class PlannedChange:
    name: str
    label: str
    action: str
    local: RemoteProperty
    remote: RemoteProperty | None = None
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""

    @property
    def remote_id(self) -> str:
        return (self.remote.remote_id or "") if self.remote else ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "action": self.action,
            "remote_id": self.remote_id or None,
            "differences": self.differences,
            "reason": self.reason,
        }


@dataclass
class Plan:
    object_type: str
    changes: list[PlannedChange]

    def of(self, action: str) -> list[PlannedChange]:
        return [change for change in self.changes if change.action == action]

    def groups_to_ensure(self, remote: Iterable[RemoteProperty]) -> list[str]:
        """Groups the writes need that no existing CRM property already uses.

        A group some remote property sits in certainly exists, so a run with nothing
        new to place makes no group calls at all.
        """
        existing = {prop.group_name for prop in remote if prop.group_name}
        needed: list[str] = []
        for change in self.changes:
            if change.action not in (CREATE, UPDATE):
                continue
            group = change.local.group_name
            if change.action == UPDATE and "group_name" not in change.differences:
                continue
            if group and group not in existing and group not in needed:
                needed.append(group)
        return needed

    def summary(self) -> dict[str, int]:
        return {action: len(self.of(action)) for action in (CREATE, UPDATE, SKIP, REFUSED)}


def definition_to_remote(definition) -> RemoteProperty:
    """The RemoteProperty a connector sends for one PropertyDefinition (options in snake_case)."""
    return RemoteProperty(
        name=definition.name,
        label=definition.label,
        type=definition.type,
        field_type=definition.field_type,
        group_name=definition.group_name or rules.DEFAULT_GROUPS.get(definition.object_type, ""),
        description=definition.description or "",
        options=[
            {
                "label": option["label"],
                "value": option["value"],
                "display_order": option.get("display_order", index),
                "hidden": bool(option.get("hidden", False)),
            }
            for index, option in enumerate(definition.options or [])
        ],
        raw={"display_order": definition.display_order, "hidden": definition.hidden},
    )


def _option_view(options: Sequence[dict]) -> dict:
    """Options reduced to what can differ: label and hidden per value, and the order of values."""
    by_value: dict[str, dict] = {}
    ordered = []
    has_order = False
    for index, option in enumerate(options or []):
        value = str(option.get("value"))
        order = option.get("display_order", option.get("displayOrder"))
        has_order = has_order or order is not None
        ordered.append((order if order is not None else index, index, value))
        by_value[value] = {"label": option.get("label"), "hidden": option.get("hidden")}
    return {
        "by_value": by_value,
        "order": [value for _, _, value in sorted(ordered)] if has_order else None,
    }


def _options_differ(local: Sequence[dict], remote: Sequence[dict]) -> bool:
    mine, theirs = _option_view(local), _option_view(remote)
    if set(mine["by_value"]) != set(theirs["by_value"]):
        return True
    for value, attrs in mine["by_value"].items():
        remote_attrs = theirs["by_value"][value]
        if remote_attrs["label"] not in (None, "") and remote_attrs["label"] != attrs["label"]:
            return True
        if remote_attrs["hidden"] is not None and bool(remote_attrs["hidden"]) != bool(attrs["hidden"]):
            return True
    return theirs["order"] is not None and mine["order"] != theirs["order"]


def property_differences(local: RemoteProperty, remote: RemoteProperty) -> dict[str, dict[str, Any]]:
    """{field: {"local": ..., "crm": ...}} for every compared field that differs."""
    differences: dict[str, dict[str, Any]] = {}
    for name in COMPARED_FIELDS:
        mine, theirs = getattr(local, name), getattr(remote, name)
        if name == "options":
            if (mine or theirs) and _options_differ(mine or [], theirs or []):
                differences[name] = {"local": mine, "crm": theirs}
            continue
        if name == "description":
            if (mine or "") != (theirs or ""):
                differences[name] = {"local": mine, "crm": theirs}
            continue
        if theirs in (None, ""):
            continue  # the CRM does not report this field
        if mine != theirs:
            differences[name] = {"local": mine, "crm": theirs}
    return differences


def plan_build(
    *,
    object_type: str,
    local: Sequence[RemoteProperty],
    remote: Sequence[RemoteProperty],
    project: Callable[[RemoteProperty], RemoteProperty] | None = None,
) -> Plan:
    """Decide create / update / skip / refused for every local definition.

    `project` turns a local definition into what this CRM would store for it (Brevo
    upper-cases names and has no labels); the diff compares that projection with the
    CRM's property, while the change keeps the local definition to send.
    """
    remote_by_name = {prop.name: prop for prop in remote}
    # CRMs that change a name's case (Brevo upper-cases attributes) still match by name.
    remote_by_folded = {prop.name.lower(): prop for prop in remote}
    projected = {prop.name: (project(prop) if project else prop) for prop in local}
    local_names = {projected[prop.name].name.lower() for prop in local}
    # A custom CRM property we do not define, by label: a local one with that label and a
    # new name is a rename, which CRMs refuse (names are immutable; labels are unique).
    orphans_by_label = {
        prop.label.strip().lower(): prop
        for prop in remote
        if not prop.crm_defined and prop.name.lower() not in local_names and prop.label
    }
    changes: list[PlannedChange] = []
    for prop in local:
        mine = projected[prop.name]
        existing = remote_by_name.get(mine.name) or remote_by_folded.get(mine.name.lower())
        change = PlannedChange(name=prop.name, label=prop.label, action=SKIP, local=prop, remote=existing)
        if existing is None:
            renamed = orphans_by_label.get(mine.label.strip().lower()) if mine.label else None
            if renamed is not None:
                change.action = REFUSED
                change.remote = renamed
                change.reason = (
                    f"The CRM already has a property labelled '{prop.label}' named '{renamed.name}'; "
                    "a property's name cannot be changed in the CRM. Rename the definition back to "
                    f"'{renamed.name}' or give it another label."
                )
            else:
                change.action = CREATE
        elif existing.crm_defined:
            change.reason = "Defined by the CRM itself; never modified."
        elif existing.type and existing.type != mine.type:
            change.action = REFUSED
            change.differences = {"type": {"local": mine.type, "crm": existing.type}}
            change.reason = (
                f"Property already exists with different type ('{existing.type}' in the CRM, "
                f"'{mine.type}' here); the CRM does not change the type of an existing property."
            )
        else:
            change.differences = property_differences(mine, existing)
            if change.differences:
                change.action = UPDATE
        changes.append(change)
    return Plan(object_type=object_type, changes=changes)
