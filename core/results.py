"""The run report: what one run did, as a typed value that every consumer shares.

Data flow: the engine builds a :class:`RunReport` from the executed plan
(:func:`build_report`); the state stores it as JSON (:data:`SCHEMA`); report.py renders
it (text, HTML, e-mail); the CLI prints it; the daemon builds one for a pause alert.
Only public values are in it: sensitive fields appear as "changed", never as values.
"Needs attention" has one definition, :func:`hrsync.plan.needs_attention`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load

from .errors import EXIT_OK, EXIT_RECORDS, EXIT_STOPPED
from .plan import COUNT_KEYS, LEFT, UNCHANGED, WRITES, GroupLine, Plan, needs_attention

#: Run statuses: all applied | some people need attention | stopped before (more) writes | stopped on request.
OK, PARTIAL, STOPPED, INTERRUPTED = "ok", "partial", "stopped", "interrupted"


@dataclass
class PersonLine:
    """One person in a report: their action after execution, with public changes only."""

    action: str
    person: str
    source_id: str | None = None
    email: str | None = None
    sink_id: str | None = None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    matched: bool = False
    #: Linked to a user that carried no source id: hrsync wrote its own onto it (it adopted the user).
    adopted: bool = False
    outcome: str = "planned"
    message: str = ""
    invited: bool = False

    @property
    def needs_attention(self) -> bool:
        return needs_attention(self.action, self.outcome)


@dataclass
class RunReport:
    connection: str
    status: str = OK
    run_id: int | None = None
    #: normal | full | only | dry-run
    mode: str = "normal"
    message: str = ""
    started_at: str = ""
    ended_at: str = ""
    source: str = ""
    sink: str = ""
    timezone: str = "UTC"
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Lines the sink adds about its own settings (e.g. invitations requested).
    notices: list[str] = field(default_factory=list)
    stopped: str = ""
    actions: list[PersonLine] = field(default_factory=list)
    #: Users the sink holds that no source person matched (when the run listed the sink): name and e-mail.
    unmatched: list[PersonLine] = field(default_factory=list)
    #: Group changes (connections with ``groups:``).
    groups: list[GroupLine] = field(default_factory=list)
    #: The connection's first successful sync: its report asks for a review (who was linked, who matched nobody).
    first_run: bool = False
    #: Those of ``warnings`` an earlier report already said in full (standing conditions): said quietly.
    standing: list[str] = field(default_factory=list)
    #: People who needed attention in the previous run and no longer do, with what happened to them now.
    resolved: list[PersonLine] = field(default_factory=list)
    #: Linked people the source no longer has (or holds out of scope), left active by ``missing: ignore``.
    left_alone: list[PersonLine] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = {**dict.fromkeys(COUNT_KEYS, 0), **self.counts}

    @property
    def dry_run(self) -> bool:
        return self.mode == "dry-run"

    @property
    def attention(self) -> list[PersonLine]:
        return [a for a in self.actions if a.needs_attention]

    @property
    def groups_failed(self) -> list[GroupLine]:
        return [g for g in self.groups if g.outcome == "failed"]

    @property
    def attention_count(self) -> int:
        """People and groups someone must act on (a stopped run is said on its own)."""
        return len(self.attention) + len(self.groups_failed)

    @property
    def needs_attention(self) -> bool:
        return self.status in (STOPPED, INTERRUPTED) or bool(self.attention) or bool(self.groups_failed)

    @property
    def not_applied(self) -> list[PersonLine]:
        """Writes that were planned but never attempted (the run was interrupted or stopped)."""
        return [a for a in self.actions if a.outcome == "planned" and a.action in WRITES and not self.dry_run]

    @property
    def matched(self) -> list[PersonLine]:
        """People linked to an existing sink user by e-mail (this run, or planned by a dry run)."""
        return [a for a in self.actions if a.matched and a.outcome != "failed"]

    @property
    def adopted(self) -> list[PersonLine]:
        """Of :attr:`matched`, the users that carried no source id: hrsync adopted them (wrote its id on them)."""
        return [a for a in self.matched if a.adopted]

    @property
    def has_changes(self) -> bool:
        return any(self.counts.get(k) for k in ("created", "updated", "deactivated")) or any(
            g.kind != "gone" and g.outcome == "applied" for g in self.groups)

    @property
    def exit_code(self) -> int:
        if self.status in (STOPPED, INTERRUPTED):
            return EXIT_STOPPED
        return EXIT_RECORDS if self.status == PARTIAL else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The stored form. :data:`SCHEMA` reads it back; writing takes the fields as they are, which
        the schema would only copy - 10x slower for a report of 100,000 people (a test holds both equal)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["counts"], out["warnings"], out["notices"] = dict(self.counts), list(self.warnings), list(self.notices)
        out["actions"] = [_line(a) for a in self.actions]
        out["unmatched"] = [_line(a) for a in self.unmatched]
        out["groups"] = [dict(vars(g)) for g in self.groups]
        out["standing"] = list(self.standing)
        out["resolved"] = [_line(a) for a in self.resolved]
        out["left_alone"] = [_line(a) for a in self.left_alone]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        return SCHEMA.load(data)


def _line(line: PersonLine) -> dict[str, Any]:
    return dict(vars(line))  # shares the line's changes and notes: the stored form is written, never changed


def build_report(plan: Plan, *, first_run: bool = True, mode: str = "normal", **run: Any) -> RunReport:
    """The report of an executed (or, for a dry run, planned) plan; ``run`` holds the run's own fields.

    People not created because they had left are named only (nothing else of theirs travels),
    and only on a connection's ``first_run``: later runs just count them.
    """
    lines = [PersonLine(
        action=a.kind, person=a.person, source_id=a.source_id, email=None if a.kind == LEFT else a.email,
        sink_id=a.sink_id,
        changes=a.public_changes(plan.sensitive), reason=a.reason, notes=list(a.notes), matched=a.matched,
        adopted=a.adopted,
        outcome=a.outcome, message=a.message, invited=a.invited,
    ) for a in plan.actions if (a.kind != UNCHANGED or a.matched) and (first_run or a.kind != LEFT)]
    unmatched = [PersonLine("unmatched", name, email=email) for name, email in plan.unmatched]
    left_alone = [PersonLine(a.kind, a.person, a.source_id, a.email, a.sink_id, reason=a.reason)
                  for a in plan.left_alone]
    return RunReport(counts=plan.counts(planned=mode == "dry-run"), warnings=list(plan.warnings),
                     stopped=plan.stopped, actions=lines, unmatched=unmatched, mode=mode, groups=list(plan.groups),
                     first_run=first_run, left_alone=left_alone, **run)


class PersonLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True)
    person = fields.String(required=True)
    source_id = fields.String(allow_none=True, load_default=None)
    email = fields.String(allow_none=True, load_default=None)
    sink_id = fields.String(allow_none=True, load_default=None)
    changes = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    reason = fields.String(load_default="")
    notes = fields.List(fields.String(), load_default=list)
    matched = fields.Boolean(load_default=False)
    adopted = fields.Boolean(load_default=False)
    outcome = fields.String(load_default="planned")
    message = fields.String(load_default="")
    invited = fields.Boolean(load_default=False)

    @post_load
    def _make(self, data, **kwargs) -> PersonLine:
        return PersonLine(**data)


class GroupLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True)
    name = fields.String(required=True)
    field = fields.String(load_default="")
    renamed_from = fields.String(allow_none=True, load_default=None)
    added = fields.Integer(load_default=0)
    removed = fields.Integer(load_default=0)
    outcome = fields.String(load_default="planned")
    message = fields.String(load_default="")

    @post_load
    def _make(self, data, **kwargs) -> GroupLine:
        return GroupLine(**data)


class RunReportSchema(Schema):
    """The stored form of a :class:`RunReport` (JSON in the state's ``runs`` table)."""

    class Meta:
        unknown = EXCLUDE

    connection = fields.String(required=True)
    status = fields.String(load_default=OK)
    run_id = fields.Integer(allow_none=True, load_default=None)
    mode = fields.String(load_default="normal")
    message = fields.String(load_default="")
    started_at = fields.String(load_default="")
    ended_at = fields.String(load_default="")
    source = fields.String(load_default="")
    sink = fields.String(load_default="")
    timezone = fields.String(load_default="UTC")
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), load_default=dict)
    warnings = fields.List(fields.String(), load_default=list)
    notices = fields.List(fields.String(), load_default=list)
    stopped = fields.String(load_default="")
    actions = fields.List(fields.Nested(PersonLineSchema), load_default=list)
    unmatched = fields.List(fields.Nested(PersonLineSchema), load_default=list)
    groups = fields.List(fields.Nested(GroupLineSchema), load_default=list)
    first_run = fields.Boolean(load_default=False)
    standing = fields.List(fields.String(), load_default=list)
    resolved = fields.List(fields.Nested(PersonLineSchema), load_default=list)
    left_alone = fields.List(fields.Nested(PersonLineSchema), load_default=list)

    @post_load
    def _make(self, data, **kwargs) -> RunReport:
        return RunReport(**data)


SCHEMA = RunReportSchema()
