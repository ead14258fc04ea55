"""Every check of the open yard format, streamed and vectorised, reported in one `YardImportError`.

`validate_yard(directory)` reads `yard.toml`, then the node tables twice (ids and kinds first, then parents,
groups and fields, which need every id), the edge tables, and the calendar and actuals tables; each pass holds
only what later checks need (ids, kind codes, parent and edge numbers), never whole tables. Checks run on whole
batches with pyarrow and numpy. What passes comes back as a `CheckedYard`, numbered in read order (node tables
in `[tables]` order, rows in file order): the input of `order.order_nodes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from knowledge.words import with_article
from knowledge.yardformat._cycles import find_cycle
from knowledge.yardformat._ids import IdLookup, bad_ids
from knowledge.yardformat._kept import KeptRows, RoleRows
from knowledge.yardformat.convert import convert, describe_bounds
from knowledge.yardformat.errors import PROBLEMS_SHOWN, Problem, ProblemKind, YardImportError
from knowledge.yardformat.fields import ACTUALS, FIELDS, Consumer, YardField
from knowledge.yardformat.read import (
    BATCH_ROWS,
    Batch,
    TableReadError,
    find_table,
    iter_batches,
    prefetched,
    table_columns,
)
from knowledge.yardformat.spec import ColumnMap, YardSpec, load_spec

__all__ = ["CheckedYard", "KeptRows", "NodeFile", "RoleRows", "validate_yard"]

_NODE_CORE: Final = ("id", "kind", "parent")
_CYCLE_SHOWN: Final = 50


@dataclass(frozen=True)
class NodeFile:
    """One node table, and where its rows sit in the yard's node numbering."""

    file: str
    path: Path
    columns: tuple[str, ...]
    first_node: int
    """Node number of the file's first row (read order)."""
    rows: int


@dataclass(frozen=True)
class CheckedYard:
    """A yard that passed every check, numbered in read order (node files in order, rows in order)."""

    spec: YardSpec
    directory: Path
    node_files: tuple[NodeFile, ...]
    edge_files: tuple[Path, ...]
    ids: pa.ChunkedArray
    """Every node's id, in read order."""
    kind: npt.NDArray[np.int16]
    """Every node's kind, as its index in `spec.known_kinds`."""
    parent: npt.NDArray[np.int32]
    """Production parent of every node (read order), -1 for a root."""
    groups: dict[str, npt.NDArray[np.int32]]
    """Parent in each grouping hierarchy (`[hierarchies]`), -1 for none."""
    before: npt.NDArray[np.int32]
    """Edges' `before` ends (read order node numbers), edge tables in order."""
    after: npt.NDArray[np.int32]
    unlocked: dict[str, tuple[Consumer, ...]] = field(default_factory=dict)
    """Role -> the consumers (models, scheduler) its columns feed completely."""
    roles: dict[str, KeptRows] = field(default_factory=dict)
    """Each role's rows, in read order, with their fields in the brain's names and units: what the importer
    stores as the role's table (so every value is read and converted once)."""
    actuals: KeptRows | None = None
    """The actuals table's rows in the brain's names and units (`nodes`: the node each row is about)."""
    other_files: tuple[Path, ...] = ()
    """The calendar and actuals tables, when the yard has them."""

    @property
    def num_nodes(self) -> int:
        """How many nodes the yard has."""
        return len(self.kind)


class _Located(Protocol):
    """Where a batch's rows sit: its file and the 1-based number of its first row."""

    @property
    def file(self) -> str: ...

    @property
    def first_row(self) -> int: ...


class _Resolver:
    """Id -> node lookups of a column, its unknown ids reported against its batch.

    Rows that are no reference (an empty cell, a row of another role) are left out before hashing: a grouping
    column that only a few kinds fill costs only its filled rows.
    """

    def __init__(self, lookup: IdLookup, problems: _Problems) -> None:
        self.lookup = lookup
        self.problems = problems

    def resolve(
        self, at: _Located, column: str, values: pa.Array, skip: npt.NDArray[np.bool_], problem: str
    ) -> npt.NDArray[np.int32]:
        """The node of each value (-1 where `skip` is set or the id is unknown, reported as `problem`)."""
        want = ~skip
        found = np.full(len(values), -1, dtype=np.int64)
        if want.all():
            found = self.lookup.nodes_of(values)
        elif want.any():
            found[want] = self.lookup.nodes_of(values.filter(pa.array(want)))
        missing = (found < 0) & want
        self.problems.add_rows(problem, at, missing, column, _says(values, "is the id of no node in the yard"))
        return found.astype(np.int32)


class _Problems:
    """Problems by kind: the first `PROBLEMS_SHOWN` of each, and a count of all."""

    def __init__(self) -> None:
        self.shown: dict[str, list[Problem]] = {}
        self.counts: dict[str, int] = {}

    def add(self, kind: str, file: str, row: int | None, column: str | None, message: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        kept = self.shown.setdefault(kind, [])
        if len(kept) < PROBLEMS_SHOWN:
            kept.append(Problem(kind, file, row, column, message))

    def add_rows(
        self,
        kind: str,
        batch: _Located,
        mask: npt.NDArray[np.bool_],
        column: str | None,
        message: Callable[[int], str],
    ) -> None:
        """One problem per row of `batch` where `mask` is set; `message(i)` is asked only for those shown."""
        count = int(np.count_nonzero(mask))
        if not count:
            return
        kept = self.shown.setdefault(kind, [])
        room = PROBLEMS_SHOWN - len(kept)
        if room > 0:
            for i in np.flatnonzero(mask)[:room].tolist():
                kept.append(Problem(kind, batch.file, batch.first_row + i, column, message(i)))
        self.counts[kind] = self.counts.get(kind, 0) + count

    def __bool__(self) -> bool:
        return bool(self.counts)

    def error(self, yard: str) -> YardImportError:
        return YardImportError(
            yard, tuple(ProblemKind(k, self.counts[k], tuple(self.shown.get(k, ()))) for k in self.counts)
        )


def _value(array: pa.Array, i: int) -> str:
    return repr(array[i].as_py())


def _says(values: pa.Array, what: str) -> Callable[[int], str]:
    """A problem's message for row i: the value, then what is wrong with it."""
    return lambda i: f"{_value(values, i)} {what}"


def _text(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _empty(column: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(pc.equal(column, ""), True).to_numpy(zero_copy_only=False), dtype=bool)


class _Check:
    """One validation run (the state shared by its passes)."""

    def __init__(self, directory: Path, spec: YardSpec, batch_rows: int, spill: Path | None) -> None:
        self.directory = directory
        self.spec = spec
        self.batch_rows = batch_rows
        self.problems = _Problems()
        self.kinds = spec.known_kinds
        self.role_codes: dict[str, npt.NDArray[np.int16]] = {
            role: np.asarray([self.kinds.index(k) for k in kinds], dtype=np.int16) for role, kinds in spec.roles.items()
        }
        self.node_files: list[NodeFile] = []
        self.resolver: _Resolver
        self.unlocked: dict[str, set[Consumer]] = {}
        self.spill = spill
        self.roles: dict[str, KeptRows] = {}
        self.actual_rows: KeptRows | None = None

    # -- files -------------------------------------------------------------------------------------------
    def _table(self, name: str, *, required: bool) -> Path | None:
        try:
            path = find_table(self.directory, name)
        except TableReadError as exc:
            self.problems.add(exc.problem.kind, exc.problem.file, None, None, exc.problem.message)
            return None
        if path is None and required:
            self.problems.add("missing file", name, None, None, f"no table {name!r} (.parquet or .csv) in the yard")
        return path

    def _batches(self, path: Path, columns: list[str]) -> Iterator[Batch]:
        try:
            yield from prefetched(iter_batches(path, columns, batch_rows=self.batch_rows))
        except TableReadError as exc:
            p = exc.problem
            self.problems.add(p.kind, p.file, p.row, p.column, p.message)

    def _columns(self, path: Path) -> tuple[str, ...] | None:
        try:
            return tuple(table_columns(path))
        except TableReadError as exc:
            self.problems.add(exc.problem.kind, exc.problem.file, None, None, exc.problem.message)
            return None

    def resolve(self) -> tuple[list[Path], list[Path], Path | None, Path | None]:
        tables = self.spec.tables
        node_names = tables.nodes or (
            "nodes",
            *(n for n in ("work_packages", "resources") if self._table(n, required=False)),
        )
        nodes = [p for n in node_names if (p := self._table(n, required=True))]
        edges = [p for n in tables.edges or ("edges",) if (p := self._table(n, required=True))]
        calendar = self._table(tables.calendar or "calendar", required=tables.calendar is not None)
        actuals = self._table(tables.actuals or "actuals", required=tables.actuals is not None)
        return nodes, edges, calendar, actuals

    # -- pass 1: ids and kinds ---------------------------------------------------------------------------
    def ids_and_kinds(self, paths: list[Path]) -> tuple[pa.ChunkedArray, npt.NDArray[np.int16]]:
        chunks: list[pa.Array] = []
        kinds: list[npt.NDArray[np.int16]] = []
        known = pa.array(self.kinds, type=pa.string())
        first = 0
        for path in paths:
            columns = self._columns(path)
            if columns is None:
                continue
            lacking = [c for c in _NODE_CORE if c not in columns]
            for c in lacking:
                self.problems.add("missing column", path.name, None, c, f"a node table needs columns {_NODE_CORE}")
            if lacking:
                continue
            rows = 0
            for batch in self._batches(path, ["id", "kind"]):
                ids = _text(batch.data.column("id"))
                count, shown = bad_ids(ids, PROBLEMS_SHOWN)
                for i, message in shown:
                    self.problems.add("bad id", batch.file, batch.first_row + i, "id", message)
                if count > len(shown):
                    self.problems.counts["bad id"] = self.problems.counts.get("bad id", 0) + count - len(shown)
                kind_text = _text(batch.data.column("kind"))
                codes = pc.index_in(kind_text, value_set=known)
                unknown = np.asarray(pc.is_null(codes).to_numpy(zero_copy_only=False), dtype=bool)
                self.problems.add_rows(
                    "unknown kind",
                    batch,
                    unknown,
                    "kind",
                    _says(
                        kind_text, "is a kind with no role and not in `kinds`: add it to [roles] or to kinds = [...]"
                    ),
                )
                chunks.append(ids)
                kinds.append(np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int16))
                rows += batch.data.num_rows
            self.node_files.append(NodeFile(path.name, path, columns, first, rows))
            first += rows
        ids_all = pa.chunked_array(chunks, type=pa.string())
        kind_all = np.concatenate(kinds) if kinds else np.empty(0, dtype=np.int16)
        return ids_all, kind_all

    def where(self, node: int) -> tuple[str, int]:
        """The file and row of a node."""
        for f in reversed(self.node_files):
            if node >= f.first_node:
                return f.file, node - f.first_node + 1
        raise IndexError(node)

    def duplicates(self, lookup: IdLookup) -> None:
        later, first = lookup.duplicates()
        if not len(later):
            return
        for node, earlier in zip(later[:PROBLEMS_SHOWN].tolist(), first[:PROBLEMS_SHOWN].tolist(), strict=True):
            file, row = self.where(node)
            other_file, other_row = self.where(earlier)
            self.problems.add(
                "duplicate id",
                file,
                row,
                "id",
                f"id {lookup.id_of(node)!r} is also the id of {other_file} row {other_row:,}: ids must be unique",
            )
        self.problems.counts["duplicate id"] = len(later)

    # -- pass 2: parents, groups and fields --------------------------------------------------------------
    def references(
        self, lookup: IdLookup, kind: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.int32], dict[str, npt.NDArray[np.int32]]]:
        n = len(kind)
        parent = np.full(n, -1, dtype=np.int32)
        groups = {name: np.full(n, -1, dtype=np.int32) for name in self.spec.hierarchies}
        for nf in self.node_files:
            plan = self._field_plan(nf, kind[nf.first_node : nf.first_node + nf.rows])
            wanted = ["parent", *self.spec.hierarchies.values(), *{m.column for _, _, m in plan}]
            for batch in self._batches(nf.path, wanted):
                lo = nf.first_node + batch.first_row - 1
                hi = lo + batch.data.num_rows
                parent[lo:hi] = self._resolve(batch, "parent", "unknown parent")
                for name, column in self.spec.hierarchies.items():
                    if column in batch.data.schema.names:
                        groups[name][lo:hi] = self._resolve(batch, column, "unknown group parent")
                self._fields(lookup, batch, kind[lo:hi], plan, lo)
        return parent, groups

    def _resolve(self, batch: Batch, column: str, problem: str) -> npt.NDArray[np.int32]:
        values = _text(batch.data.column(column))
        return self.resolver.resolve(batch, column, values, _empty(values), problem)

    def _field_plan(self, nf: NodeFile, kind: npt.NDArray[np.int16]) -> list[tuple[str, YardField, ColumnMap]]:
        """The fields this file's rows give, per role present in it; missing columns reported."""
        present = set(np.unique(kind).tolist())
        plan: list[tuple[str, YardField, ColumnMap]] = []
        for role, codes in self.role_codes.items():
            hits = [int(c) for c in codes if int(c) in present]
            if not hits:
                continue
            first_row = int(np.flatnonzero(np.isin(kind, codes))[0]) + 1
            given: dict[Consumer, list[str]] = {}
            for f in FIELDS[role]:
                source = self.spec.source(role, f.name)
                if source is not None and source.column not in nf.columns:
                    self.problems.add(
                        "missing column",
                        nf.file,
                        first_row,
                        source.column,
                        f"[columns.{role}] maps {f.name!r} to column {source.column!r}, which {nf.file} lacks "
                        f"(it has rows of role {role!r})",
                    )
                    continue
                if source is None and f.name in nf.columns:
                    source = ColumnMap(column=f.name)
                if source is not None:
                    plan.append((role, f, source))
                    given.setdefault(f.feeds, []).append(f.name)
            for consumer, names in given.items():
                needed = [f.name for f in FIELDS[role] if f.feeds == consumer and f.required and f.name not in names]
                explicit = any(self.spec.source(role, name) for name in names)
                if needed and explicit:
                    self.problems.add(
                        "missing column",
                        nf.file,
                        first_row,
                        needed[0],
                        f"role {role!r} gives the {consumer} fields {', '.join(names)} but not the required "
                        f"{', '.join(needed)}: add the columns or map them in [columns.{role}]",
                    )
                elif not needed:
                    self.unlocked.setdefault(role, set()).add(consumer)
        return plan

    def _fields(
        self,
        lookup: IdLookup,
        batch: Batch,
        kind: npt.NDArray[np.int16],
        plan: list[tuple[str, YardField, ColumnMap]],
        first_node: int,
    ) -> None:
        """Check the batch's fields, keeping each role's rows (nodes and converted fields) for the importer."""
        kept: dict[str, tuple[npt.NDArray[np.bool_], RoleRows]] = {}
        for role, codes in self.role_codes.items():
            rows = np.isin(kind, codes)
            if rows.any():
                nodes = (first_node + np.flatnonzero(rows)).astype(np.int32)
                kept[role] = (rows, RoleRows(nodes))
        for role, f, source in plan:
            if role not in kept or source.column not in batch.data.schema.names:
                continue
            rows, keep = kept[role]
            self.check_field(lookup, batch, rows, role, f, source, keep)
        for role, (_, keep) in kept.items():
            if role not in self.roles:
                self.roles[role] = KeptRows(role, self.spill)
            self.roles[role].add(keep)

    def check_field(
        self,
        lookup: IdLookup,
        batch: Batch,
        rows: npt.NDArray[np.bool_],
        section: str,
        f: YardField,
        source: ColumnMap,
        keep: RoleRows | None = None,
    ) -> None:
        """Check one field's column on `rows` of the batch; with `keep`, keep its values there (refs as nodes)."""
        column = batch.data.column(source.column)
        got = convert(column, f, source)
        key = f"columns.{section}.{f.name}"
        if f.words:
            expected = f"one of {', '.join(f.words)} (map other values in {key}.values)"
        else:
            expected = with_article(f.type)  # "an int", "a float", "a date"
        self.problems.add_rows(
            "wrong type",
            batch,
            rows & got.bad_type,
            source.column,
            lambda i: f"{_value(column, i)} is not {expected}, as {section} field {f.name!r} needs",
        )
        unit = f"declared in {source.unit!r}" if source.unit else f"declare its unit as {key}.unit"
        self.problems.add_rows(
            "value out of range",
            batch,
            rows & got.out_of_range,
            source.column,
            lambda i: (
                f"{_value(column, i)} gives {f.name} = {got.values[i].as_py():g}, outside {describe_bounds(f)}"
                + (f": is the column in another unit? ({unit})" if f.unit else "")
            ),
        )
        if f.required:
            self.problems.add_rows(
                "missing value",
                batch,
                rows & got.missing,
                source.column,
                lambda i: f"no value for {section} field {f.name!r}, which the {f.feeds} model needs",
            )
        if f.type == "ref":
            nodes = self.resolver.resolve(batch, source.column, _text(column), ~rows | got.missing, "unknown reference")
            if keep is not None:
                keep.columns[f.name] = pa.array(nodes[rows], pa.int32())
        elif keep is not None:
            keep.columns[f.name] = got.values.filter(pa.array(rows)) if not rows.all() else got.values

    # -- edges, cycles, other tables ---------------------------------------------------------------------
    def edges(self, lookup: IdLookup, paths: list[Path]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        before: list[npt.NDArray[np.int32]] = []
        after: list[npt.NDArray[np.int32]] = []
        self.edge_files: list[tuple[str, int]] = []
        for path in paths:
            columns = self._columns(path)
            if columns is None:
                continue
            lacking = [c for c in ("before", "after") if c not in columns]
            for c in lacking:
                self.problems.add("missing column", path.name, None, c, "an edge table needs columns before, after")
            if lacking:
                continue
            count = 0
            for batch in self._batches(path, ["before", "after"]):
                none = np.zeros(batch.data.num_rows, dtype=bool)
                for column, parts in (("before", before), ("after", after)):
                    values = _text(batch.data.column(column))
                    parts.append(self.resolver.resolve(batch, column, values, none, "unknown edge end"))
                count += batch.data.num_rows
            self.edge_files.append((path.name, count))
        empty = np.empty(0, dtype=np.int32)
        return (np.concatenate(before) if before else empty), (np.concatenate(after) if after else empty)

    def cycle(
        self,
        lookup: IdLookup,
        src: npt.NDArray[np.int32],
        dst: npt.NDArray[np.int32],
        parent: npt.NDArray[np.int32],
        hierarchy: str | None,
    ) -> None:
        """Report one cycle over edges plus parent links (child -> parent), or over one grouping hierarchy."""
        child = np.flatnonzero(parent >= 0).astype(np.int32)
        all_src = np.concatenate([src, child])
        all_dst = np.concatenate([dst, parent[child]])
        path = find_cycle(all_src, all_dst, len(parent))
        if path is None:
            return
        steps = [repr(lookup.id_of(path[0]))]
        for u, v in zip(path[:_CYCLE_SHOWN], path[1 : _CYCLE_SHOWN + 1], strict=False):
            steps.append(f"-> {lookup.id_of(v)!r} ({self._link(src, dst, parent, u, v, hierarchy)})")
        more = f" ... ({len(path) - 1:,} steps in all)" if len(path) > _CYCLE_SHOWN + 1 else ""
        file, row = self.where(path[0])
        what = "production hierarchy and edges" if hierarchy is None else f"hierarchy {hierarchy!r}"
        self.problems.add(
            "cycle",
            file,
            row,
            None,
            f"a cycle over the {what}, so nothing on it can be ordered: {' '.join(steps)}{more}",
        )

    def _link(
        self,
        src: npt.NDArray[np.int32],
        dst: npt.NDArray[np.int32],
        parent: npt.NDArray[np.int32],
        u: int,
        v: int,
        hierarchy: str | None,
    ) -> str:
        if parent[u] == v:
            file, row = self.where(u)
            column = "parent" if hierarchy is None else self.spec.hierarchies[hierarchy]
            return f"{column} of {file} row {row:,}"
        edge = int(np.flatnonzero((src == u) & (dst == v))[0])
        for name, count in self.edge_files:
            if edge < count:
                return f"edge {name} row {edge + 1:,}"
            edge -= count
        return "edge"

    def calendar(self, lookup: IdLookup, path: Path) -> None:
        columns = self._columns(path)
        if columns is None:
            return
        if "date" not in columns:
            self.problems.add("missing column", path.name, None, "date", "the calendar needs a column date (ISO)")
            return
        day = YardField("date", "date", "scheduling", required=True)
        resource = YardField("resource", "ref", "scheduling")
        for batch in self._batches(path, ["date", "resource"]):
            every = np.ones(batch.data.num_rows, dtype=bool)
            self.check_field(lookup, batch, every, "calendar", day, ColumnMap(column="date"))
            if "resource" in batch.data.schema.names:
                self.check_field(lookup, batch, every, "calendar", resource, ColumnMap(column="resource"))

    def actuals(self, lookup: IdLookup, path: Path) -> None:
        columns = self._columns(path)
        if columns is None:
            return
        if "id" not in columns:
            self.problems.add("missing column", path.name, None, "id", "the actuals table needs a column id (node id)")
            return
        plan: list[tuple[YardField, ColumnMap]] = []
        for f in FIELDS[ACTUALS]:
            source = self.spec.source(ACTUALS, f.name) or (ColumnMap(column=f.name) if f.name in columns else None)
            if source is not None and source.column not in columns:
                self.problems.add(
                    "missing column",
                    path.name,
                    None,
                    source.column,
                    f"[columns.actuals] maps {f.name!r} to column {source.column!r}, which {path.name} lacks",
                )
            elif source is not None:
                plan.append((f, source))
        ref = YardField("id", "ref", "actuals", required=True)
        self.actual_rows = KeptRows(ACTUALS, self.spill)
        for batch in self._batches(path, ["id", *{s.column for _, s in plan}]):
            every = np.ones(batch.data.num_rows, dtype=bool)
            keep = RoleRows(np.empty(0, dtype=np.int32))
            self.check_field(lookup, batch, every, ACTUALS, ref, ColumnMap(column="id"), keep)
            for f, source in plan:
                self.check_field(lookup, batch, every, ACTUALS, f, source, keep)
            keep.nodes = keep.columns.pop("id").to_numpy(zero_copy_only=False).astype(np.int32)
            self.actual_rows.add(keep)

    def close(self) -> None:
        for kept in (*self.roles.values(), self.actual_rows):
            if kept is not None:
                kept.close()


def validate_yard(directory: Path, *, batch_rows: int = BATCH_ROWS, spill: Path | None = None) -> CheckedYard:
    """Check a yard in the open yard format, streaming its tables `batch_rows` rows at a time.

    The roles' converted fields are kept for the importer: in memory, or written to Arrow files in `spill` (an
    existing directory, which the caller removes) to keep a large yard's import within bounded memory.

    Raises:
        YardImportError: what is wrong (the first 20 of each kind of problem, and their counts), each naming
            file, row and column.
    """
    spec = load_spec(directory)
    check = _Check(directory, spec, batch_rows, spill)
    try:
        return _validate(check, directory, spec)
    finally:
        check.close()


def _validate(check: _Check, directory: Path, spec: YardSpec) -> CheckedYard:
    node_paths, edge_paths, calendar, actuals = check.resolve()
    ids, kind = check.ids_and_kinds(node_paths)
    if check.problems.counts.keys() & {"missing file", "unreadable table", "ambiguous table"}:
        raise check.problems.error(directory.name)  # no point resolving references against a partial id set
    lookup = IdLookup(ids)
    check.resolver = _Resolver(lookup, check.problems)
    check.duplicates(lookup)
    parent, groups = check.references(lookup, kind)
    before, after = check.edges(lookup, edge_paths)
    if calendar is not None:
        check.calendar(lookup, calendar)
    if actuals is not None:
        check.actuals(lookup, actuals)
    lookup.release()
    if not check.problems.counts.keys() & {"unknown parent", "unknown edge end", "unknown group parent"}:
        check.cycle(lookup, before, after, parent, None)
        none = np.empty(0, dtype=np.int32)
        for name, group in groups.items():
            check.cycle(lookup, none, none, group, name)
    if check.problems:
        raise check.problems.error(directory.name)
    return CheckedYard(
        spec=spec,
        directory=directory,
        node_files=tuple(check.node_files),
        edge_files=tuple(edge_paths),
        ids=ids,
        kind=kind,
        parent=parent,
        groups=groups,
        before=before,
        after=after,
        unlocked={role: tuple(sorted(c)) for role, c in check.unlocked.items()},
        roles=check.roles,
        actuals=check.actual_rows,
        other_files=tuple(p for p in (calendar, actuals) if p is not None),
    )
