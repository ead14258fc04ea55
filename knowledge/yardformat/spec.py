"""`yard.toml`: the spec of a yard in the open yard format, as pydantic models.

`load_spec(directory)` reads and checks it; every problem is reported with its dotted toml key
(`columns.joint.thickness_mm.unit`) in one `YardImportError`. See the package docstring for the contract.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.words import with_article
from knowledge.yardformat.errors import Problem, ProblemKind, YardImportError
from knowledge.yardformat.fields import ACTUALS, FIELDS, ROLES, UNITS, Role, field_of

__all__ = [
    "FORMAT",
    "RESERVED_COLUMNS",
    "SPEC_FILE",
    "ColumnMap",
    "NdtRulesSpec",
    "TableFiles",
    "YardSpec",
    "load_spec",
]

FORMAT: Final = "shipbrain-yard/1"
SPEC_FILE: Final = "yard.toml"
RESERVED_COLUMNS: Final = ("id", "kind", "parent", "name")
"""Columns of every node table that mean the same in every yard."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Section = Literal[
    "block", "assembly", "sub_assembly", "part", "joint", "outfitting_item", "work_package", "resource", "actuals"
]


class ColumnMap(BaseModel):
    """Where one field's values come from: the yard's column, its unit and a value map.

    In `yard.toml` a bare string is the column name: `length_m = "WELD_LEN"`; the table form adds the rest:
    `thickness_mm = { column = "THK", unit = "in" }`, `process = { column = "WELD_PROC", values = { "FCAW-G" =
    "FCAW" } }`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    """The column of the node table (or actuals table) that holds the field."""
    unit: str | None = None
    """The unit the yard's values are in (a key of `fields.UNITS`); None: the field's own unit."""
    values: dict[str, str | bool | int | float] = Field(default_factory=dict)
    """Yard value -> field value, applied before the field's checks (`"FCAW-G" = "FCAW"`, `"Y" = true`)."""


class TableFiles(BaseModel):
    """Which files hold which tables; a name without an extension finds `name.parquet` or `name.csv`.

    Defaults: nodes from `nodes` plus `work_packages` and `resources` where they exist, edges from `edges`,
    calendar and actuals from files of those names where they exist.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: tuple[str, ...] | None = None
    """Node tables: one id space, the same core columns (id, kind, parent), each its own other columns."""
    edges: tuple[str, ...] | None = None
    """Edge tables: columns `before` and `after` (node ids)."""
    calendar: str | None = None
    """Non-working days: column `date` (ISO date), optional `resource` (a node id; empty for the whole yard)."""
    actuals: str | None = None
    """What happened: column `id` (a node id) and the fields of `[columns.actuals]`."""

    @field_validator("nodes", "edges", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class NdtRulesSpec(BaseModel):
    """`[ndt]`: the yard's own NDT rules, where they differ from the brain's built-in defaults (`brain.core.ndt`).

    A key left out keeps the built-in value; with no `[ndt]` at all the brain answers with its built-in default rules
    and says so. Example:

    ```toml
    [ndt]
    source = "QA manual 7.2 rev C"         # the yard's document the rules come from, cited in answers
    ut_min_thickness_mm = 10.0             # butts of this thickness and over by UT, thinner by RT
    full_extent_grades = ["EH36"]          # high-strength butts over full_extent_thickness_mm: in full
    full_extent_thickness_mm = 25.0
    full_extent_gap_mm = 3.0               # butts with a fit-up gap over this: in full
    hours_per_joint = { UT = 1.2, RT = 2.0, MT = 0.5 }
    ```
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = Field(default=None, min_length=1, max_length=200)
    """The yard's document that states the rules, named in answers."""
    ut_min_thickness_mm: float | None = Field(default=None, gt=0, le=500)
    """Butts of this thickness and over are tested by UT, thinner ones by RT (fillets by MT), in mm."""
    full_extent_erection: bool | None = None
    """Erection butts are tested over their whole length."""
    full_extent_one_sided: bool | None = None
    """One-sided butts are tested over their whole length."""
    full_extent_grades: tuple[str, ...] | None = None
    """The grades whose butts thicker than `full_extent_thickness_mm` are tested in full (the brain's grade words)."""
    full_extent_thickness_mm: float | None = Field(default=None, gt=0, le=500)
    """The thickness over which butts of `full_extent_grades` are tested in full, in mm."""
    full_extent_poor_access: bool | None = None
    """Butts with poor access are tested in full."""
    full_extent_gap_mm: float | None = Field(default=None, ge=0, le=100)
    """Butts with a fit-up gap over this are tested in full, in mm."""
    hours_per_joint: dict[Literal["UT", "RT", "MT"], float] | None = None
    """NDT hours of one joint by method (set-up, testing and report), in h; methods left out keep the default."""
    default_share: float | None = Field(default=None, gt=0, le=1)
    """The share of the joints a plan inspects when no budget is given (0.1 = 10 %)."""

    @field_validator("hours_per_joint")
    @classmethod
    def _positive_hours(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and any(not 0 < h <= 100 for h in value.values()):
            raise ValueError("NDT hours per joint are more than 0 and at most 100")
        return value


class _SpecIssues(ValueError):
    """Several problems found after the structure parsed, each with its toml key."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{key}: {message}" for key, message in issues))


class YardSpec(BaseModel):
    """The contents of `yard.toml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["shipbrain-yard/1"]
    """The format and its version."""
    name: str = Field(min_length=1)
    """The yard's (or ship's) name, for people."""
    day0: dt.date
    """Day 0 of the plan: dates in the tables are read relative to it."""
    kinds: tuple[str, ...] = ()
    """Kinds that have no role (systems, zones, pipelines...): declared so a typo in a kind is caught."""
    roles: dict[Role, tuple[str, ...]] = Field(default_factory=dict)
    """Role -> the yard's kind or kinds (`block = "BLK"`, `part = ["PLATE", "PROFILE"]`)."""
    hierarchies: dict[str, str] = Field(default_factory=dict)
    """Grouping hierarchy name -> its parent column in the node tables (`system = "SYSTEM"`): no order implied."""
    columns: dict[Section, dict[str, ColumnMap]] = Field(default_factory=dict)
    """Role (or "actuals") -> field -> where it comes from. A field not mapped is read from a column of its own
    name if the table has one."""
    tables: TableFiles = Field(default_factory=TableFiles)
    ndt: NdtRulesSpec | None = None
    """The yard's own NDT rules (`[ndt]`); None: the brain's built-in defaults."""

    @field_validator("roles", mode="before")
    @classmethod
    def _kinds_as_lists(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {role: (kinds,) if isinstance(kinds, str) else kinds for role, kinds in value.items()}
        return value

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {
            section: {f: {"column": m} if isinstance(m, str) else m for f, m in maps.items()}
            if isinstance(maps, Mapping)
            else maps
            for section, maps in value.items()
        }

    @model_validator(mode="after")
    def _consistent(self) -> YardSpec:
        issues = _role_issues(self.roles, self.kinds)
        for name, column in self.hierarchies.items():
            if not _NAME.match(name) or name == "production":
                issues.append((f"hierarchies.{name}", "a hierarchy name is a word other than 'production'"))
            if column in RESERVED_COLUMNS:
                issues.append((f"hierarchies.{name}", f"column {column!r} is reserved ({', '.join(RESERVED_COLUMNS)})"))
        for section, maps in self.columns.items():
            for name, source in maps.items():
                issues.extend(_mapping_issues(section, name, source))
        if issues:
            raise _SpecIssues(issues)
        return self

    @cached_property
    def role_of_kind(self) -> dict[str, Role]:
        """The role of each kind that has one."""
        return {kind: role for role, kinds in self.roles.items() for kind in kinds}

    @cached_property
    def known_kinds(self) -> tuple[str, ...]:
        """Every kind a node may have: those with a role (in role order), then those declared without."""
        with_role = [k for role in ROLES for k in self.roles.get(role, ())]
        return (*with_role, *self.kinds)

    def source(self, section: str, field: str) -> ColumnMap | None:
        """The mapping of `field` of `section` (a role or "actuals"), None if `[columns]` does not map it."""
        for key, maps in self.columns.items():
            if key == section:
                return maps.get(field)
        return None


def _role_issues(roles: Mapping[Role, tuple[str, ...]], without_role: tuple[str, ...]) -> list[tuple[str, str]]:
    issues: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for role, kinds in roles.items():
        if not kinds:
            issues.append((f"roles.{role}", "no kind given: name the yard's kind or kinds, or drop the key"))
        for kind in kinds:
            if not kind:
                issues.append((f"roles.{role}", "an empty kind"))
            elif kind in seen:
                issues.append((f"roles.{role}", f"kind {kind!r} already has role {seen[kind]!r}: one role a kind"))
            else:
                seen[kind] = role
    for kind in without_role:
        if kind in seen:
            issues.append(("kinds", f"kind {kind!r} has role {seen[kind]!r}: list it in one place"))
    return issues


def _mapping_issues(section: str, name: str, source: ColumnMap) -> list[tuple[str, str]]:
    key = f"columns.{section}.{name}"
    field = field_of(section, name)
    if field is None:
        known = ", ".join(f.name for f in FIELDS[section])
        return [(key, f"{section} has no field {name!r}; its fields: {known}")]
    issues: list[tuple[str, str]] = []
    if source.column in RESERVED_COLUMNS and section != ACTUALS:
        issues.append((f"{key}.column", f"column {source.column!r} is reserved for the node's {source.column}"))
    if source.unit is not None:
        if field.unit is None:
            issues.append((f"{key}.unit", f"{name!r} has no unit (it is {with_article(field.type)}); drop the unit"))
        elif source.unit not in UNITS:
            issues.append((f"{key}.unit", f"unknown unit {source.unit!r}; units: {', '.join(UNITS)}"))
        elif UNITS[source.unit][0] != UNITS[field.unit][0]:
            issues.append(
                (
                    f"{key}.unit",
                    f"{source.unit!r} is {with_article(UNITS[source.unit][0])}, "
                    f"{name!r} {with_article(UNITS[field.unit][0])}",
                )
            )
    if source.values and field.type in ("float", "date", "ref"):
        issues.append((f"{key}.values", f"a value map needs a word, text, bool or int field; {name!r} is {field.type}"))
    if field.type == "word":
        for yard_value, value in source.values.items():
            if value not in field.words:
                issues.append(
                    (f"{key}.values.{yard_value}", f"{value!r} is not a {name}; one of {', '.join(field.words)}")
                )
    return issues


def load_spec(directory: Path) -> YardSpec:
    """The yard's `yard.toml`, checked.

    Raises:
        YardImportError: no `yard.toml`, bad TOML (with its line), or keys that break the spec (each named).
    """
    path = directory / SPEC_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _spec_error(directory, [("missing file", None, f"no {SPEC_FILE} in {str(directory)!r}")]) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _spec_error(directory, [("bad toml", None, str(exc))]) from None
    try:
        return YardSpec.model_validate(raw)
    except ValidationError as exc:
        found: list[tuple[str, str | None, str]] = []
        for error in exc.errors():
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, _SpecIssues):
                found.extend(("bad spec", key, message) for key, message in cause.issues)
            else:
                key = ".".join(str(part) for part in error["loc"] if part != "[key]") or None
                found.append(("bad spec", key, _readable(error)))
        raise _spec_error(directory, found) from None


def _readable(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "unknown key (a typo? see the format's keys)"
    if error["type"] in ("missing",):
        return "required key missing"
    if error["type"] == "literal_error" and error["loc"] and error["loc"][0] == "format":
        return f"format is {error['input']!r}; this Shipbrain reads {FORMAT!r}"
    return (
        f"{message} (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else message
    )


def _spec_error(directory: Path, found: list[tuple[str, str | None, str]]) -> YardImportError:
    kinds: dict[str, list[Problem]] = {}
    for kind, key, message in found:
        kinds.setdefault(kind, []).append(Problem(kind, SPEC_FILE, None, key, message))
    return YardImportError(directory.name, tuple(ProblemKind(k, len(ps), tuple(ps[:20])) for k, ps in kinds.items()))
