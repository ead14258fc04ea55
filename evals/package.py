"""Recorded work packages: what the models read and what really happened, in the yard's codes and the brain's names.

A recorded package is a directory cut from an imported yard store (`shipbrain yard import`; a generated synthetic
yard goes through the same importer), so it reads the same for every yard:

```
manifest.json            format, version, name, source (the store, its digest; a synthetic yard's spec), the blocks
                         and work packages it covers, `missing` (a table whose model inputs the yard cannot give, and
                         why), and each file's rows, bytes and SHA-256
block.parquet            code, then the block fields the yard gives (block_type, zone, weight_t, erection_sequence,
                         planned_erection, work_package)
joint.parquet            code, block, work_package, then the welding model's input fields as it reads them
                         (`WeldingAdapter.yard_rows`: the yard's values, the model's defaults where it gives none)
outfitting_item.parquet  code, block, work_package, then the outfitting model's input fields
                         (`OutfittingAdapter.yard_rows`)
work_package.parquet     code, block, then the work package fields the yard gives (trade, resource, crane, crew,
                         estimated_hours, planned_start, planned_finish), duration_days and release_day as the
                         scheduler reads them (`request_from_yard`), and after: the codes of the package's work
                         packages it waits on (the edges between work packages), space-separated
resource.parquet         code, then the resource fields the yard gives (resource_kind, capacity, lift_capacity_t):
                         every resource of the yard
actuals.parquet          code, then what the yard recorded of the package's nodes (hours, start, finish, defect,
                         defect_class, rework; a simulated yard also its ground truth expected_hours, defect_logit)
answers.jsonl            questions planners asked and workflow calls, with the accepted answers:
                         {"id", "kind": "question"|"workflow", "question"?, "workflow"?, "input"?,
                          "expected": {field path: value}}
```

Tables are named by role (`knowledge.yardformat.ROLES`) and `actuals`; columns are the fields' canonical names
(`knowledge.yardformat.fields.FIELDS`) and the models' input fields; a reference (block, work_package, resource,
crane) is the yard's code. Nothing refers to a store's node numbers, so a yard can export the same tables from its
MES with any Parquet writer. Columns are plain Arrow types (strings, not dictionaries; dates as `date32`).

`record(store, blocks, out)` (or `work_packages=`) cuts a package from an imported store;
`RecordedPackage.open(dir)` reads one. A version 1 package (the generator's own tables) is refused with the
command that records it again.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.errors import PackageError
from knowledge.yarddir import file_sha256

if TYPE_CHECKING:
    import numpy.typing as npt

    from brain.core.workpackages import WorkPackageIndex
    from knowledge.store import YardStore

__all__ = [
    "ACTUAL_COLUMNS",
    "PACKAGE_FORMAT",
    "PACKAGE_VERSION",
    "TABLES",
    "FileEntry",
    "PackageManifest",
    "PackageSource",
    "RecordedAnswer",
    "RecordedPackage",
    "record",
]

PACKAGE_FORMAT: Final = "shipbrain-recorded-package"
PACKAGE_VERSION: Final = 2
TABLES: Final = ("block", "joint", "outfitting_item", "work_package", "resource", "actuals")
"""The package's tables: one per role it records, and the actuals."""
MODEL_TABLES: Final = ("joint", "outfitting_item")
"""Tables of model input rows (`yard_rows` of the welding and outfitting models)."""
REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "block": ("code",),
    "joint": ("code", "block", "work_package"),
    "outfitting_item": ("code", "block", "work_package"),
    "work_package": ("code", "block", "after"),
    "resource": ("code",),
    "actuals": ("code",),
}
"""Columns every package's tables must have (the rest are the fields the yard gives)."""
ACTUAL_COLUMNS: Final[dict[str, str]] = {"hours": "actual_hours", "start": "actual_start", "finish": "actual_finish"}
"""Actuals whose name the plan also uses: they join a case's rows as `actual_<field>` (the others by their name)."""
_REFS: Final = ("block", "work_package", "resource", "crane")


class FileEntry(BaseModel):
    """One file of the package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(ge=0)
    """Rows (tables) or lines (answers.jsonl)."""
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PackageSource(BaseModel):
    """Where the package was cut from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["store", "synthetic", "yard-export"] = "store"
    """store: an imported yard; synthetic: a generated yard (its spec below, so it can be made again);
    yard-export: a yard's own exporter wrote the package (no store to ask)."""
    yard: str | None = None
    """The store directory it was cut from, as given."""
    yard_name: str | None = None
    """The yard's name (its `yard.toml`)."""
    digest: str | None = None
    """`knowledge.importer.store_digest` of that store: the same yard, not only the same path."""
    parts: int | None = None
    """Synthetic yards: the generator spec's parts."""
    seed: int | None = None
    """Synthetic yards: the generator spec's seed."""
    spec_blocks: int | None = None
    """Synthetic yards: the generator spec's blocks, if it gave them."""


class PackageManifest(BaseModel):
    """`manifest.json` of a recorded package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["shipbrain-recorded-package"] = PACKAGE_FORMAT
    version: Literal[2] = PACKAGE_VERSION
    name: str = Field(min_length=1)
    created: str
    """ISO 8601 UTC time the package was written."""
    source: PackageSource
    blocks: list[str]
    """Block codes the package covers."""
    work_packages: list[str] = Field(default_factory=list)
    """Work package codes the package covers."""
    missing: dict[str, str] = Field(default_factory=dict)
    """Table -> why its model inputs (or schedule inputs) are not recorded: a field the yard does not give."""
    files: dict[str, FileEntry]
    """Relative path -> entry; every table of `TABLES` and `answers.jsonl`."""


class RecordedAnswer(BaseModel):
    """One line of answers.jsonl: a question or a workflow call with its accepted answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")
    kind: Literal["question", "workflow"]
    question: str | None = None
    workflow: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    expected: dict[str, Any] = Field(default_factory=dict)
    """Field path of the case's output (`intent`, `numbers.inspected`, `inspection_points[*].code`) -> value."""


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to strings, so the files read the same in any tool."""
    columns = [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


RECORD_AGAIN: Final = "record it again: shipbrain eval record --yard STORE --out DIR [--blocks CODES]"


def _read_manifest(path: Path) -> PackageManifest:
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise PackageError(f"no recorded package at {str(path)!r} (no manifest.json)")
    try:
        raw = json.loads(mpath.read_bytes())
    except ValueError as exc:
        raise PackageError(f"{mpath}: not JSON ({exc})") from None
    if isinstance(raw, dict) and raw.get("format") == PACKAGE_FORMAT and raw.get("version") != PACKAGE_VERSION:
        raise PackageError(
            f"package {str(path)!r} is version {raw.get('version')!r} and this Shipbrain reads version "
            f"{PACKAGE_VERSION} (the yard's roles and fields, not the generator's tables); {RECORD_AGAIN}"
        )
    try:
        return PackageManifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise PackageError(f"{mpath}: {where}: {err['msg']}") from None


class RecordedPackage:
    """A recorded work package on disk, its tables read on first use."""

    def __init__(self, path: Path, manifest: PackageManifest) -> None:
        self.path = path
        self.manifest = manifest
        self._tables: dict[str, pa.Table] = {}

    @classmethod
    def open(cls, path: str | Path, *, verify: Literal["quick", "full"] = "quick") -> RecordedPackage:
        """Open a package: the manifest, every file's presence and size (`full`: checksums too).

        Raises:
            PackageError: no package there, a format this Shipbrain does not read, a missing or changed file.
        """
        path = Path(path)
        manifest = _read_manifest(path)
        for rel, entry in manifest.files.items():
            fpath = path / rel
            if not fpath.is_file():
                raise PackageError(f"package {str(path)!r}: {rel} is missing")
            if fpath.stat().st_size != entry.bytes:
                raise PackageError(f"package {str(path)!r}: {rel} has {fpath.stat().st_size} bytes, not {entry.bytes}")
            if verify == "full" and file_sha256(fpath) != entry.sha256:
                raise PackageError(f"package {str(path)!r}: {rel} fails its checksum")
        missing = [f"{t}.parquet" for t in TABLES if f"{t}.parquet" not in manifest.files]
        if missing:
            raise PackageError(f"package {str(path)!r}: the manifest lists no {', '.join(missing)}")
        return cls(path, manifest)

    @property
    def name(self) -> str:
        """The package's name."""
        return self.manifest.name

    def table(self, name: str) -> pa.Table:
        """One of `TABLES`, checked for its required columns.

        Raises:
            PackageError: an unknown table, or one without a required column.
        """
        if name not in TABLES:
            raise PackageError(f"no table {name!r} in a recorded package; the tables are {', '.join(TABLES)}")
        if name not in self._tables:
            table = pq.read_table(self.path / f"{name}.parquet")
            absent = [c for c in REQUIRED_COLUMNS[name] if c not in table.column_names]
            if absent:
                raise PackageError(f"package {self.name!r}: {name}.parquet has no column {', '.join(absent)}")
            self._tables[name] = table
        return self._tables[name]

    @cached_property
    def answers(self) -> list[RecordedAnswer]:
        """The recorded questions and workflow calls with their accepted answers."""
        path = self.path / "answers.jsonl"
        if not path.is_file():
            return []
        out = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(RecordedAnswer.model_validate_json(line))
            except ValidationError as exc:
                err = exc.errors()[0]
                raise PackageError(f"{path}:{number}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        return out

    def rows(self, table: str, where: dict[str, str | list[str]] | None = None) -> pa.Table:
        """A table's rows whose columns equal the given values (a list: any of them)."""
        rows = self.table(table)
        for column, value in (where or {}).items():
            if column not in rows.column_names:
                raise PackageError(f"table {table!r} of package {self.name!r} has no column {column!r}")
            values = value if isinstance(value, list) else [value]
            rows = rows.filter(
                pc.is_in(rows.column(column), value_set=pa.array(values, type=rows.schema.field(column).type))
            )
        return rows

    def with_actuals(self, rows: pa.Table) -> pa.Table:
        """`rows` (with a `code` column) and, per row, what the yard recorded of it (null where nothing).

        Actuals join by their field name, `hours`, `start` and `finish` as `actual_hours`, ... (`ACTUAL_COLUMNS`),
        so they read apart from the plan's columns.
        """
        actuals = self.table("actuals")
        at = pc.index_in(rows.column("code"), value_set=actuals.column("code"))
        for name in actuals.column_names:
            if name == "code":
                continue
            column = ACTUAL_COLUMNS.get(name, name)
            if column in rows.column_names:
                continue
            rows = rows.append_column(column, actuals.column(name).take(at))
        return rows

    def __repr__(self) -> str:
        return f"RecordedPackage({str(self.path)!r}, blocks={len(self.manifest.blocks)})"


# ---- recording from an imported store ---------------------------------------------------------------------------


def _codes(yard: YardStore, nodes: npt.ArrayLike) -> pa.Array:
    """The yard's code of each node, null for -1."""
    array = np.asarray(nodes, dtype=np.int64).ravel()
    out: list[str | None] = [None] * len(array)
    hit = np.flatnonzero(array >= 0)
    for i, code in zip(hit.tolist(), yard.codes_of(array[hit]) if len(hit) else [], strict=True):
        out[i] = code
    return pa.array(out, type=pa.string())


def _chosen(yard: YardStore, codes: Iterable[str], role: str) -> npt.NDArray[np.int32]:
    """The nodes of the given codes, each checked to play `role` (ascending, once each)."""
    from knowledge.errors import UnknownCodeError

    word = role.replace("_", " ")
    nodes = []
    for code in dict.fromkeys(c.strip() for c in codes):
        try:
            node = yard.node_of(code)
        except UnknownCodeError as exc:
            raise PackageError(f"no {word} {code!r} in the yard {yard.name!r}: {exc}") from None
        if yard.role_of(node) != role:
            raise PackageError(f"{code!r} is a {yard.kind_of(node)}, not a {word}")
        nodes.append(node)
    if not nodes:
        raise PackageError(f"no {word} given to record")
    return np.unique(np.asarray(nodes, dtype=np.int32))


def _index(yard: YardStore) -> WorkPackageIndex | None:
    """The yard's work packages, None when it has none."""
    if not yard.count("work_package"):
        return None
    from brain.core.workpackages import WorkPackageIndex

    return WorkPackageIndex(yard)


def _package_rows(index: WorkPackageIndex | None, nodes: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
    """Each node's work package row (-1 for none)."""
    if index is None or not len(nodes):
        return np.full(len(nodes), -1, dtype=np.int64)
    return np.asarray(index.work_package_of(nodes), dtype=np.int64)


def _role_nodes(yard: YardStore, role: str) -> npt.NDArray[np.int32]:
    return yard.nodes_of_role(role) if yard.count(role) else np.zeros(0, dtype=np.int32)


def _blocks_of(yard: YardStore, nodes: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    return yard.block_of(nodes) if len(nodes) else np.zeros(0, dtype=np.int32)


def _package_blocks(yard: YardStore, index: WorkPackageIndex) -> npt.NDArray[np.int64]:
    """The block each work package works on (-1: none), by `WorkPackageIndex.block` and the packages' order.

    A package that names no block and makes nothing (painting a block, erecting the first one) takes the block of
    the packages it waits on when they all work on one: a block's packages follow one another.
    """
    blocks = np.asarray(index.block, dtype=np.int64).copy()
    unknown = np.flatnonzero(blocks < 0)
    if not len(unknown):
        return blocks
    nodes = np.asarray(index.nodes, dtype=np.int64)
    before, after = yard.edges_into(nodes[unknown])
    is_package = yard.role_rows("work_package", before) >= 0
    before, after = before[is_package], after[is_package]
    row_before = yard.role_rows("work_package", before)
    row_after = yard.role_rows("work_package", after)
    for _ in range(len(unknown)):  # along a chain of packages that make nothing, one step a round
        known = blocks[row_before]
        changed = False
        for row in np.unique(row_after[blocks[row_after] < 0]).tolist():
            found = np.unique(known[row_after == row])
            if len(found) == 1 and found[0] >= 0:  # every package it waits on works on this one block
                blocks[row] = found[0]
                changed = True
        if not changed:
            break
    return blocks


class _Scope:
    """What a package covers: block, joint, outfitting item and work package nodes (ascending)."""

    def __init__(
        self,
        blocks: npt.NDArray[np.int32],
        joints: npt.NDArray[np.int32],
        items: npt.NDArray[np.int32],
        packages: npt.NDArray[np.int64],
    ) -> None:
        self.blocks = blocks
        self.joints = joints
        self.items = items
        self.packages = packages
        """Rows of the work package index."""


def _scope_of_blocks(
    yard: YardStore, index: WorkPackageIndex | None, wp_blocks: npt.NDArray[np.int64], blocks: npt.NDArray[np.int32]
) -> _Scope:
    """The blocks, their joints and items (`yard.block_of`), and every work package that works on them."""
    joints = _role_nodes(yard, "joint")
    joints = joints[np.isin(_blocks_of(yard, joints), blocks)]
    items = _role_nodes(yard, "outfitting_item")
    items = items[np.isin(_blocks_of(yard, items), blocks)]
    packages = np.zeros(0, dtype=np.int64)
    if index is not None:
        inside = [np.arange(*yard.subtree(int(b)), dtype=np.int32) for b in blocks]
        made = _package_rows(index, np.unique(np.concatenate([*inside, items])))
        on_block = np.flatnonzero(np.isin(wp_blocks, blocks))
        packages = np.union1d(made[made >= 0], on_block).astype(np.int64)
    return _Scope(blocks, joints, items, packages)


def _scope_of_packages(
    yard: YardStore, index: WorkPackageIndex | None, wp_blocks: npt.NDArray[np.int64], codes: Iterable[str]
) -> _Scope:
    """The work packages, the joints and items done in them, and the blocks these lie in."""
    wanted = list(dict.fromkeys(c.strip() for c in codes))
    if index is None:
        raise PackageError(f"the yard {yard.name!r} has no work packages to record")
    unknown = [c for c in wanted if c not in index.row_of]
    if unknown or not wanted:
        some = ", ".join(index.codes[:3])
        raise PackageError(
            f"no work package {unknown[0] if unknown else ''!r} in the yard {yard.name!r} (its work packages: "
            f"{some}, ... {len(index.codes):,} in all)"
        )
    packages = np.unique(np.asarray([index.row_of[c] for c in wanted], dtype=np.int64))
    joints = _role_nodes(yard, "joint")
    joints = joints[np.isin(_package_rows(index, joints), packages)]
    items = _role_nodes(yard, "outfitting_item")
    items = items[np.isin(_package_rows(index, items), packages)]
    own = wp_blocks[packages]
    blocks = np.unique(np.concatenate([_blocks_of(yard, joints), _blocks_of(yard, items), own]).astype(np.int64))
    return _Scope(blocks[blocks >= 0].astype(np.int32), joints, items, packages)


def _role_table(yard: YardStore, role: str, nodes: npt.NDArray[Any] | None) -> pa.Table:
    """A role's rows (of `nodes`, or all) as the yard gives them: `code` first, references as codes."""
    if not yard.count(role):
        return pa.table({"code": pa.array([], pa.string())})
    table = yard.role_table(role, None, nodes)
    out: dict[str, pa.Array | pa.ChunkedArray] = {"code": _codes(yard, table.column("node").to_numpy())}
    for name in table.column_names:
        if name == "node":
            continue
        column = table.column(name)
        out[name] = _codes(yard, column.fill_null(-1).to_numpy()) if name in _REFS else column
    return _plain(pa.table(out))


def _model_table(
    yard: YardStore,
    index: WorkPackageIndex | None,
    role: str,
    nodes: npt.NDArray[np.int32],
    yard_rows: Callable[[YardStore, npt.NDArray[np.int32]], pa.Table],
    missing: dict[str, str],
) -> pa.Table:
    """The model's input rows of `nodes` (its `yard_rows`) with the yard's codes; none if it cannot read them."""
    from knowledge.errors import MissingFieldError

    head = {
        "code": _codes(yard, nodes),
        "block": _codes(yard, _blocks_of(yard, nodes)),
        "work_package": _codes(yard, _wp_nodes(index, _package_rows(index, nodes))),
    }
    if not yard.count(role):
        missing[role] = f"the yard {yard.name!r} has no {role.replace('_', ' ')}s"
        return pa.table(head)
    try:
        rows = yard_rows(yard, nodes)
    except MissingFieldError as exc:
        missing[role] = str(exc)
        return pa.table(head)
    if rows.num_rows != len(nodes):
        raise AssertionError(f"{role}: {rows.num_rows} model rows for {len(nodes)} nodes")
    fields = {n: rows.column(n) for n in rows.column_names if n not in ("node", *head)}
    return _plain(pa.table({**head, **fields}))


def _wp_nodes(index: WorkPackageIndex | None, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    if index is None:
        return np.full(len(rows), -1, dtype=np.int64)
    nodes = np.asarray(index.nodes, dtype=np.int64)
    return np.where(rows >= 0, nodes[np.maximum(rows, 0)], -1)


def _schedule_inputs(yard: YardStore, missing: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per work package code, (duration_days, release_day) as the scheduler reads them from the yard."""
    from adapters.scheduling import request_from_yard
    from knowledge.errors import InputError

    try:
        request = request_from_yard(yard)
    except InputError as exc:  # a field the scheduler needs and the yard does not give
        missing["work_package"] = str(exc)
        return {}
    return {t.code: (t.duration_days, t.release_day) for t in request.tasks}


def _work_package_table(
    yard: YardStore,
    index: WorkPackageIndex | None,
    wp_blocks: npt.NDArray[np.int64],
    packages: npt.NDArray[np.int64],
    missing: dict[str, str],
) -> pa.Table:
    """The package's work packages: the yard's fields, the scheduler's durations, and the order between them."""
    if index is None:
        return pa.table({c: pa.array([], pa.string()) for c in ("code", "block", "after")})
    nodes = np.asarray(index.nodes, dtype=np.int32)[packages]
    table = _role_table(yard, "work_package", nodes)
    block = _codes(yard, wp_blocks[packages])
    table = table.drop_columns([c for c in ("block",) if c in table.column_names])
    table = table.add_column(1, "block", block)
    codes = table.column("code").to_pylist()
    plan = _schedule_inputs(yard, missing)
    if plan:
        table = table.append_column("duration_days", pa.array([plan[c][0] for c in codes], pa.int64()))
        table = table.append_column("release_day", pa.array([plan[c][1] for c in codes], pa.int64()))
    before, after = yard.edges_from(nodes) if len(nodes) else (np.zeros(0, np.int32), np.zeros(0, np.int32))
    keep = np.isin(after, nodes)  # the edges between the package's work packages
    waits: dict[int, list[int]] = {}
    for b, a in zip(before[keep].tolist(), after[keep].tolist(), strict=True):
        waits.setdefault(a, []).append(b)
    code_of = dict(zip(nodes.tolist(), codes, strict=True))
    # one code per line, as the scheduling model reads `after`: an id may hold spaces, never a line break
    after_codes = ["\n".join(code_of[b] for b in sorted(set(waits.get(n, [])))) for n in nodes.tolist()]
    return table.append_column("after", pa.array(after_codes, pa.string()))


def _actuals_table(yard: YardStore, nodes: npt.NDArray[np.int32]) -> pa.Table:
    """What the yard recorded of `nodes`, by code."""
    from knowledge.yardformat.fields import ACTUALS

    if yard.actuals(["node"]) is None or not len(nodes):
        return pa.table({"code": pa.array([], pa.string())})
    table = yard.role_table(ACTUALS, None, nodes)
    out: dict[str, pa.Array | pa.ChunkedArray] = {"code": _codes(yard, table.column("node").to_numpy())}
    out |= {n: table.column(n) for n in table.column_names if n != "node"}
    return _plain(pa.table(out))


def _cut(
    yard: YardStore, index: WorkPackageIndex | None, wp_blocks: npt.NDArray[np.int64], scope: _Scope
) -> tuple[dict[str, pa.Table], dict[str, str]]:
    """The package's tables for a scope of a yard, and what could not be recorded (by table)."""
    from adapters.outfitting import OutfittingAdapter
    from adapters.welding import WeldingAdapter

    missing: dict[str, str] = {}
    work_packages = _work_package_table(yard, index, wp_blocks, scope.packages, missing)
    wp_nodes = _wp_nodes(index, scope.packages).astype(np.int32)
    recorded = np.unique(np.concatenate([scope.blocks, scope.joints, scope.items, wp_nodes]))
    tables = {
        "block": _role_table(yard, "block", scope.blocks),
        "joint": _model_table(yard, index, "joint", scope.joints, WeldingAdapter.yard_rows, missing),
        "outfitting_item": _model_table(
            yard, index, "outfitting_item", scope.items, OutfittingAdapter.yard_rows, missing
        ),
        "work_package": work_packages,
        "resource": _role_table(yard, "resource", None),
        "actuals": _actuals_table(yard, recorded),
    }
    return tables, missing


def _answers(yard: YardStore, blocks: pa.Table, joints: pa.Table, actuals: pa.Table) -> list[RecordedAnswer]:
    """Questions and workflow calls per block, with answers taken from the yard's records, not from any model."""
    out: list[RecordedAnswer] = []
    defect = dict.fromkeys(
        actuals.filter(pc.fill_null(actuals.column("defect"), False)).column("code").to_pylist()
        if "defect" in actuals.column_names
        else []
    )
    joint_block = np.asarray(joints.column("block").to_pylist(), dtype=object)
    joint_code = np.asarray(joints.column("code").to_pylist(), dtype=object)
    found_at = np.asarray([c in defect for c in joint_code.tolist()], dtype=bool)
    # the NDT plan is scored against what NDT found: no findings recorded (a yard without actuals), no such answer
    findings = "defect" in actuals.column_names and actuals.column("defect").null_count < actuals.num_rows
    for code in blocks.column("code").to_pylist():
        node = yard.node_of(code)
        n_joints = int(len(yard.members(node, kinds=["joint"]))) if yard.count("joint") else 0
        upstream = len(yard.upstream_ranges([node]))
        slug = _slug(code)
        out.append(
            RecordedAnswer(
                id=f"{slug}-lookup",
                kind="question",
                question=f"What's in block {code}?",
                expected={"intent": "lookup", "tools": ["lookup"], "numbers.joint": n_joints},
            )
        )
        out.append(
            RecordedAnswer(
                id=f"{slug}-upstream",
                kind="question",
                question=f"What must be done before {code}?",
                expected={"intent": "upstream", "tools": ["upstream"], "numbers.nodes": upstream},
            )
        )
        if not n_joints:
            continue
        for share in (0.05, 0.1):
            pct = round(share * 100)
            inspected = max(1, math.ceil(share * n_joints))
            out.append(
                RecordedAnswer(
                    id=f"{slug}-ndt-{pct}",
                    kind="question",
                    question=f"Which joints of {code} should get NDT with a {pct} % budget?",
                    expected={"intent": "ndt_plan", "tools": ["ndt_plan"], "numbers.inspected": inspected},
                )
            )
        if not findings:
            continue
        found = sorted(joint_code[(joint_block == code) & found_at].tolist())
        out.append(
            RecordedAnswer(
                id=f"{slug}-wip",
                kind="workflow",
                workflow="weld-inspection-plan",
                input={"code": code, "budget": {"share": 0.1}},
                # the joints where NDT really found a defect: the plan should have chosen them
                expected={"inspection_points[*].code": found, "joints_total": n_joints},
            )
        )
    return out


def _slug(code: str) -> str:
    """A code as the start of an answer id: lower case, anything but letters, digits, `_.-` as `-`."""
    text = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in code.lower()).strip("-._")
    return (text or "block")[:100]


def record(
    yard: str | Path,
    blocks: Iterable[str] | None,
    out: str | Path,
    *,
    work_packages: Iterable[str] | None = None,
    name: str | None = None,
    force: bool = False,
    source: PackageSource | None = None,
) -> RecordedPackage:
    """Cut a recorded package from an imported store: the model inputs, actuals and work packages of some blocks.

    Args:
        yard: an imported store (`shipbrain yard import`; a generated yard is one too).
        blocks: block codes (the yard's own); None for every block (unless `work_packages` is given).
        out: the package directory to write (atomically: a temporary directory renamed when whole).
        work_packages: work package codes instead of blocks: those packages, the joints and items done in them.
        name: the package's name (default: the directory's name).
        force: replace `out` if it exists.
        source: where the store came from (a synthetic yard's spec), kept in the manifest.

    Raises:
        PackageError: an unknown block or work package, both given, or `out` exists without `force`.
        YardDataError: no imported store at `yard`.
    """
    from knowledge.importer import store_digest
    from knowledge.store import YardStore

    store = YardStore.open(yard)
    out = Path(out)
    if out.exists() and not force:
        raise PackageError(f"{str(out)!r} already exists; pass --force to replace it")
    index = _index(store)
    wp_blocks = _package_blocks(store, index) if index is not None else np.zeros(0, dtype=np.int64)
    if work_packages is not None:
        if blocks is not None:
            raise PackageError("record blocks or work packages, not both")
        scope = _scope_of_packages(store, index, wp_blocks, work_packages)
    else:
        if blocks is None and not store.count("block"):
            raise PackageError(f"the yard {store.name!r} has no blocks: record work packages instead")
        chosen = _role_nodes(store, "block") if blocks is None else _chosen(store, blocks, "block")
        scope = _scope_of_blocks(store, index, wp_blocks, chosen)
    tables, missing = _cut(store, index, wp_blocks, scope)
    answers = _answers(store, tables["block"], tables["joint"], tables["actuals"])
    given = source or PackageSource()
    where = given.model_copy(update={"yard": str(yard), "yard_name": store.name, "digest": store_digest(Path(yard))})
    return write_package(tables, answers, out, name=name or out.name, source=where, force=force, missing=missing)


def write_package(
    tables: dict[str, pa.Table],
    answers: Sequence[RecordedAnswer],
    out: Path,
    *,
    name: str,
    source: PackageSource,
    force: bool = False,
    missing: dict[str, str] | None = None,
) -> RecordedPackage:
    """Write a package's tables and answers with their manifest (how a yard's own exporter can write one too)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        files: dict[str, FileEntry] = {}
        for table_name in TABLES:
            path = tmp / f"{table_name}.parquet"
            pq.write_table(tables[table_name], path, compression="zstd")
            files[path.name] = FileEntry(
                rows=tables[table_name].num_rows, bytes=path.stat().st_size, sha256=file_sha256(path)
            )
        apath = tmp / "answers.jsonl"
        apath.write_text("".join(a.model_dump_json(exclude_defaults=True) + "\n" for a in answers), encoding="utf-8")
        files[apath.name] = FileEntry(rows=len(answers), bytes=apath.stat().st_size, sha256=file_sha256(apath))
        manifest = PackageManifest(
            name=name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            source=source,
            blocks=[str(c) for c in tables["block"].column("code").to_pylist()],
            work_packages=[str(c) for c in tables["work_package"].column("code").to_pylist()],
            missing=dict(missing or {}),
            files=files,
        )
        (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out.exists() and force:
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return RecordedPackage.open(out)


def package_summary(package: RecordedPackage) -> dict[str, Any]:
    """Counts for printing: blocks, work packages, joints, items, resources, actuals, answers, bytes."""
    files = package.manifest.files
    return {
        "name": package.name,
        "path": str(package.path),
        "blocks": len(package.manifest.blocks),
        "work_packages": len(package.manifest.work_packages),
        "joints": files["joint.parquet"].rows,
        "outfitting_items": files["outfitting_item.parquet"].rows,
        "resources": files["resource.parquet"].rows,
        "actuals": files["actuals.parquet"].rows,
        "answers": files["answers.jsonl"].rows if "answers.jsonl" in files else 0,
        "bytes": sum(f.bytes for f in files.values()),
    }


def dumps_manifest(package: RecordedPackage) -> str:
    """The manifest as indented JSON."""
    return json.dumps(package.manifest.model_dump(mode="json"), indent=2)
