"""Recorded work packages: what really happened on a set of blocks, in a directory a yard can write itself.

A recorded package is a directory:

```
manifest.json            format, version, name, source, blocks, and each file's rows, bytes and SHA-256
blocks.parquet           code, block_type, zone, erection_sequence, planned_erection, actual_erection
parts.parquet            code, block, kind, grade, thickness_mm, length_m, width_m, weight_kg
joints.parquet           code, block, work_package, level, joint_type, process, position, access, one_sided,
                         grade, thickness_mm, length_m, fit_up_gap_mm, norm_hours,
                         actual_hours, defect, defect_class            <- recorded actuals (NDT findings)
outfitting_items.parquet code, block, work_package, kind, system, zone, length_m, diameter_mm, weight_t,
                         spans_blocks, norm_hours, stage, actual_hours, rework   <- recorded actuals
work_packages.parquet    code, block, trade, resource, crane, crew, estimated_hours, duration_days,
                         release_day, after (space-separated codes it waits on), planned_start,
                         planned_finish, actual_hours, actual_start, actual_finish <- recorded actuals
resources.parquet        resource, kind, capacity
answers.jsonl            questions planners asked and workflow calls, with the accepted answers:
                         {"id", "kind": "question"|"workflow", "question"?, "workflow"?, "input"?,
                          "expected": {field path: value}}
```

Columns are plain Arrow types (strings, not dictionaries; dates as `date32`), so a yard can export the same
tables from its MES with any Parquet writer. Codes are the yard's own (`B012`, `J012-000042`, `WP-B012-PNL`);
nothing refers to Shipbrain's internal ids. `source` says where the package was cut: a synthetic yard names
its generator spec (parts, seed), so the brain and the workflows can be run against the same yard again.

`record(yard, blocks, out)` cuts a package from a generated yard; `RecordedPackage.open(dir)` reads one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
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

if TYPE_CHECKING:
    import numpy.typing as npt

    from knowledge.partgraph import PartGraph

__all__ = [
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
PACKAGE_VERSION: Final = 1
TABLES: Final = ("blocks", "parts", "joints", "outfitting_items", "work_packages", "resources")
REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "blocks": ("code",),
    "parts": ("code", "block"),
    "joints": (
        "code",
        "block",
        "work_package",
        "level",
        "joint_type",
        "process",
        "position",
        "access",
        "one_sided",
        "grade",
        "thickness_mm",
        "length_m",
        "fit_up_gap_mm",
        "actual_hours",
        "defect",
    ),
    "outfitting_items": ("code", "block", "actual_hours", "rework"),
    "work_packages": ("code", "block", "trade", "duration_days", "after"),
    "resources": ("resource", "kind", "capacity"),
}
"""Columns every package's tables must have (a yard may add others)."""


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

    kind: Literal["synthetic", "yard-export"] = "synthetic"
    yard: str | None = None
    """The yard directory it was cut from, as given (informative only)."""
    parts: int | None = None
    """Synthetic yards: the generator spec's parts, so the same yard can be made again."""
    seed: int | None = None
    """Synthetic yards: the generator spec's seed."""
    spec_blocks: int | None = None
    """Synthetic yards: the generator spec's blocks, if it gave them."""
    generator_version: str | None = None


class PackageManifest(BaseModel):
    """`manifest.json` of a recorded package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["shipbrain-recorded-package"] = PACKAGE_FORMAT
    version: int = PACKAGE_VERSION
    name: str = Field(min_length=1)
    created: str
    """ISO 8601 UTC time the package was written."""
    source: PackageSource
    blocks: list[str]
    """Block codes the package covers."""
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to strings, so the files read the same in any tool."""
    columns = [pc.cast(c, c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


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
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise PackageError(f"no recorded package at {str(path)!r} (no manifest.json)")
        try:
            manifest = PackageManifest.model_validate_json(mpath.read_bytes())
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise PackageError(f"{mpath}: {where}: {err['msg']}") from None
        for rel, entry in manifest.files.items():
            fpath = path / rel
            if not fpath.is_file():
                raise PackageError(f"package {str(path)!r}: {rel} is missing")
            if fpath.stat().st_size != entry.bytes:
                raise PackageError(f"package {str(path)!r}: {rel} has {fpath.stat().st_size} bytes, not {entry.bytes}")
            if verify == "full" and _sha256(fpath) != entry.sha256:
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

    def __repr__(self) -> str:
        return f"RecordedPackage({str(self.path)!r}, blocks={len(self.manifest.blocks)})"


# ---- recording from a generated yard ----------------------------------------------------------------------------


def _codes(graph: PartGraph, ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pa.array(graph.codes_of(np.asarray(ids.to_numpy(zero_copy_only=False))), type=pa.string())


def _lookup(codes: Sequence[str], ids: npt.ArrayLike, keys: pa.ChunkedArray) -> pa.Array:
    """The code of each key (a dense id among `ids`)."""
    index = dict(zip(np.asarray(ids).tolist(), codes, strict=True))
    return pa.array([index.get(k) for k in keys.to_pylist()], type=pa.string())


def _cut(graph: PartGraph, block_ids: npt.NDArray[np.integer[Any]]) -> dict[str, pa.Table]:
    """The package's tables for the given blocks of a yard."""
    from adapters.scheduling import SchedulingAdapter

    keep = pa.array(block_ids)
    blocks = graph.table("blocks").filter(pc.is_in(graph.table("blocks").column("block_id"), value_set=keep))
    block_codes = blocks.column("code").to_pylist()
    block_ids_sorted = blocks.column("block_id").to_numpy()
    wps = graph.table("work_packages")
    wps = wps.filter(pc.is_in(wps.column("block_id"), value_set=keep))
    wp_codes = wps.column("code").to_pylist()
    wp_ids = wps.column("work_package_id").to_numpy()

    def by_block(name: str, key: str, drop: tuple[str, ...]) -> pa.Table:
        table = graph.table(name)
        table = table.filter(pc.is_in(table.column("block_id"), value_set=keep))
        out = {
            "code": _codes(graph, table.column(key)),
            "block": _lookup(block_codes, block_ids_sorted, table.column("block_id")),
        }
        if "work_package_id" in table.column_names:
            out["work_package"] = _lookup(wp_codes, wp_ids, table.column("work_package_id"))
        for column in table.column_names:
            if column not in drop and column not in (key, "block_id", "work_package_id"):
                out[column] = table.column(column)
        return _plain(pa.table(out))

    schedule_rows = SchedulingAdapter([]).yard_rows(graph, block_ids)
    plan = {r["code"]: r for r in schedule_rows.to_pylist()}
    work_packages = pa.table(
        {
            "code": wps.column("code"),
            "block": _lookup(block_codes, block_ids_sorted, wps.column("block_id")),
            **{c: wps.column(c) for c in ("trade", "resource", "crane", "crew", "estimated_hours")},
            "duration_days": pa.array([plan[c]["duration_days"] for c in wp_codes], type=pa.int64()),
            "release_day": pa.array([plan[c]["release_day"] for c in wp_codes], type=pa.int64()),
            "after": pa.array([plan[c]["after"] for c in wp_codes], type=pa.string()),
            **{
                c: wps.column(c)
                for c in ("planned_start", "planned_finish", "actual_hours", "actual_start", "actual_finish")
            },
        }
    )
    return {
        "blocks": _plain(blocks.drop_columns(["block_id"])),
        "parts": by_block("parts", "part_id", ("sub_assembly_id",)),
        "joints": by_block("joints", "joint_id", ("owner_id", "part_a_id", "part_b_id")),
        "outfitting_items": by_block("outfitting_items", "item_id", ("assembly_id",)),
        "work_packages": _plain(work_packages),
        "resources": _plain(graph.table("resources")),
    }


def _answers(graph: PartGraph, blocks: pa.Table, joints: pa.Table) -> list[RecordedAnswer]:
    """Questions and workflow calls per block, with answers taken from the yard's records, not from any model."""
    out: list[RecordedAnswer] = []
    defect = joints.column("defect").to_numpy(zero_copy_only=False)
    joint_block = np.asarray(joints.column("block").to_pylist(), dtype=object)
    joint_code = np.asarray(joints.column("code").to_pylist(), dtype=object)
    for code in blocks.column("code").to_pylist():
        node = graph.id_of(code)
        n_joints = int(len(graph.members(node, kinds=["joint"])))
        upstream = int(len(graph.upstream([node])))
        slug = code.lower()
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
        found = sorted(joint_code[(joint_block == code) & defect].tolist())
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


def record(
    yard: str | Path,
    blocks: Iterable[str] | None,
    out: str | Path,
    *,
    name: str | None = None,
    force: bool = False,
) -> RecordedPackage:
    """Cut a recorded package from a generated yard: the given blocks' tables, actuals and accepted answers.

    Args:
        yard: a yard directory (`shipbrain yard generate`).
        blocks: block codes (e.g. ["B001", "B002"]); None for every block.
        out: the package directory to write (atomically: a temporary directory renamed when whole).
        name: the package's name (default: the directory's name).
        force: replace `out` if it exists.

    Raises:
        PackageError: an unknown block, or `out` exists without `force`.
    """
    from knowledge.partgraph import PartGraph

    graph = PartGraph.open(yard)
    out = Path(out)
    if out.exists() and not force:
        raise PackageError(f"{str(out)!r} already exists; pass --force to replace it")
    all_blocks = graph.table("blocks", ["block_id", "code"])
    codes = all_blocks.column("code").to_pylist()
    wanted = codes if blocks is None else [b.strip().upper() for b in blocks]
    unknown = [b for b in wanted if b not in codes]
    if unknown or not wanted:
        raise PackageError(
            f"no block {unknown[0] if unknown else ''!r} in the yard; its blocks run {codes[0]}-{codes[-1]}"
        )
    block_ids = np.sort(np.asarray([graph.id_of(b) for b in dict.fromkeys(wanted)], dtype=np.int32))
    tables = _cut(graph, block_ids)
    answers = _answers(graph, tables["blocks"], tables["joints"])
    manifest_source = PackageSource(
        kind="synthetic",
        yard=str(yard),
        parts=graph.manifest.parts,
        seed=graph.manifest.seed,
        spec_blocks=graph.manifest.blocks,
        generator_version=graph.manifest.generator_version,
    )
    return write_package(tables, answers, out, name=name or out.name, source=manifest_source, force=force)


def write_package(
    tables: dict[str, pa.Table],
    answers: Sequence[RecordedAnswer],
    out: Path,
    *,
    name: str,
    source: PackageSource,
    force: bool = False,
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
                rows=tables[table_name].num_rows, bytes=path.stat().st_size, sha256=_sha256(path)
            )
        apath = tmp / "answers.jsonl"
        apath.write_text("".join(a.model_dump_json(exclude_defaults=True) + "\n" for a in answers), encoding="utf-8")
        files[apath.name] = FileEntry(rows=len(answers), bytes=apath.stat().st_size, sha256=_sha256(apath))
        block_codes = tables["blocks"].column("code").to_pylist()
        manifest = PackageManifest(
            name=name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            source=source,
            blocks=block_codes,
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
    """Counts for printing: blocks, rows per table, answers."""
    files = package.manifest.files
    return {
        "name": package.name,
        "path": str(package.path),
        "blocks": len(package.manifest.blocks),
        **{t: files[f"{t}.parquet"].rows for t in TABLES},
        "answers": files["answers.jsonl"].rows if "answers.jsonl" in files else 0,
        "bytes": sum(f.bytes for f in files.values()),
    }


def dumps_manifest(package: RecordedPackage) -> str:
    """The manifest as indented JSON."""
    return json.dumps(package.manifest.model_dump(mode="json"), indent=2)
