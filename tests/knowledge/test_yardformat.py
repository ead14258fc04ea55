"""The open yard format's checks: good yards pass in CSV and Parquet, each bad input names file, row and column."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from knowledge.errors import InputError
from knowledge.yardformat import CheckedYard, YardImportError, load_spec, validate_yard

SPEC = """\
format = "shipbrain-yard/1"
name = "test yard"
day0 = 2026-03-02
kinds = ["SYS"]

[roles]
block = "BLK"
assembly = "ASSY"
part = ["PLATE", "PROFILE"]
joint = "WELD"

[hierarchies]
system = "SYSTEM"

[columns.joint]
process = { column = "WELD_PROC", values = { "FCAW-G" = "FCAW" } }
thickness_mm = { column = "THK_IN", unit = "in" }
length_m = "WELD_LEN"
joint_type = "JT"
position = "POS"
grade = "GRADE"
"""

WELD = ("FCAW-G", "0.5", "2.5", "butt", "1G", "AH36")
NODES: list[tuple[str, ...]] = [
    # id, kind, parent, SYSTEM, WELD_PROC, THK_IN, WELD_LEN, JT, POS, GRADE
    ("船体-B12", "BLK", "", "", "", "", "", "", "", ""),
    ("H1042/B12-A03", "ASSY", "船体-B12", "", "", "", "", "", "", ""),
    ("H1042/B12-A03 PL0042", "PLATE", "H1042/B12-A03", "", "", "", "", "", "", ""),
    ('SP-300-12"', "PROFILE", "H1042/B12-A03", "BALLAST", "", "", "", "", "", ""),
    ("W 17", "WELD", "H1042/B12-A03", "", *WELD),
    ("BALLAST", "SYS", "", "", "", "", "", "", "", ""),
]
COLUMNS = ("id", "kind", "parent", "SYSTEM", "WELD_PROC", "THK_IN", "WELD_LEN", "JT", "POS", "GRADE")
EDGES = [("H1042/B12-A03 PL0042", "W 17"), ('SP-300-12"', "W 17")]


def _table(columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows], type=pa.string()) for i, c in enumerate(columns)})


def _write(path: Path, table: pa.Table) -> None:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=2)  # several row groups: row numbers must carry over


def make_yard(
    root: Path,
    *,
    nodes: list[tuple[str, ...]] | None = None,
    edges: list[tuple[str, str]] | None = None,
    spec: str = SPEC,
    fmt: str = "csv",
    columns: tuple[str, ...] = COLUMNS,
) -> Path:
    """A small yard directory: `yard.toml`, `nodes.<fmt>`, `edges.<fmt>`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "yard.toml").write_text(spec, encoding="utf-8")
    _write(root / f"nodes.{fmt}", _table(columns, NODES if nodes is None else nodes))
    _write(root / f"edges.{fmt}", _table(("before", "after"), EDGES if edges is None else edges))
    return root


def _problem(error: YardImportError, kind: str) -> tuple[str, int | None, str | None, str]:
    found = [p for p in error.problems if p.kind == kind]
    assert found, f"no {kind!r} problem in:\n{error}"
    p = found[0]
    return p.file, p.row, p.column, p.message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_good_yard_passes_with_its_own_ids(tmp_path: Path, fmt: str) -> None:
    yard = validate_yard(make_yard(tmp_path / "y", fmt=fmt), batch_rows=2)
    assert isinstance(yard, CheckedYard)
    assert yard.num_nodes == 6
    assert yard.ids.to_pylist() == [r[0] for r in NODES]
    kinds = [yard.spec.known_kinds[k] for k in yard.kind]
    assert kinds == ["BLK", "ASSY", "PLATE", "PROFILE", "WELD", "SYS"]
    assert yard.parent.tolist() == [-1, 0, 1, 1, 1, -1]
    assert yard.groups["system"].tolist() == [-1, -1, -1, 5, -1, -1]
    assert list(zip(yard.before.tolist(), yard.after.tolist(), strict=True)) == [(2, 4), (3, 4)]
    assert yard.unlocked["joint"] == ("welding",)


def test_node_rows_may_come_from_several_tables_of_both_formats(tmp_path: Path) -> None:
    root = make_yard(tmp_path / "y", nodes=NODES[:3])
    spec = SPEC.replace("[roles]", '[tables]\nnodes = ["nodes", "welds.parquet"]\n\n[roles]')
    (root / "yard.toml").write_text(spec, encoding="utf-8")
    _write(root / "welds.parquet", _table(COLUMNS, NODES[3:]))
    yard = validate_yard(root)
    assert [f.file for f in yard.node_files] == ["nodes.csv", "welds.parquet"]
    assert yard.num_nodes == 6 and yard.parent.tolist()[3:] == [1, 1, -1]


def _bad(tmp_path: Path, **kwargs: object) -> YardImportError:
    with pytest.raises(YardImportError) as caught:
        validate_yard(make_yard(tmp_path / "y", **kwargs), batch_rows=2)  # type: ignore[arg-type]
    return caught.value


def _with(row: int, **changes: str) -> list[tuple[str, ...]]:
    rows = [list(r) for r in NODES]
    for column, value in changes.items():
        rows[row][COLUMNS.index(column)] = value
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(
    ("nodes", "kind", "row", "column", "words"),
    [
        (NODES + [NODES[2]], "duplicate id", 7, "id", ["'H1042/B12-A03 PL0042'", "nodes.{fmt} row 3"]),
        (_with(3, parent="H1042/B12-A04"), "unknown parent", 4, "parent", ["'H1042/B12-A04'"]),
        (_with(3, SYSTEM="BALAST"), "unknown group parent", 4, "SYSTEM", ["'BALAST'"]),
        (_with(2, kind="PLATTE"), "unknown kind", 3, "kind", ["'PLATTE'", "[roles]"]),
        (_with(2, id="x" * 129), "bad id", 3, "id", ["longer than 128 bytes"]),
        (_with(2, id="PL\t42"), "bad id", 3, "id", ["control character U+0009"]),
        (_with(1, id=""), "bad id", 2, "id", ["empty"]),
        (_with(4, WELD_PROC="TIG"), "wrong type", 5, "WELD_PROC", ["'TIG'", "columns.joint.process.values"]),
        (_with(4, WELD_LEN="2,5"), "wrong type", 5, "WELD_LEN", ["'2,5'", "float"]),
        (_with(4, THK_IN="12"), "value out of range", 5, "THK_IN", ["304.8", "(0, 100] mm", "another unit"]),
        (_with(4, POS=""), "missing value", 5, "POS", ["'position'"]),
    ],
)
def test_each_bad_node_names_file_row_and_column(
    tmp_path: Path, fmt: str, nodes: list[tuple[str, ...]], kind: str, row: int, column: str, words: list[str]
) -> None:
    error = _bad(tmp_path, nodes=nodes, fmt=fmt)
    file, got_row, got_column, message = _problem(error, kind)
    assert (file, got_row, got_column) == (f"nodes.{fmt}", row, column)
    for word in words:
        assert word.format(fmt=fmt) in message
    assert f"nodes.{fmt}, row {row}, column {column!r}" in str(error)
    assert isinstance(error, InputError)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_edge_end_that_names_no_node(tmp_path: Path, fmt: str) -> None:
    error = _bad(tmp_path, edges=[*EDGES, ("W 17", "W 18")], fmt=fmt)
    assert _problem(error, "unknown edge end")[:3] == (f"edges.{fmt}", 3, "after")


def test_a_mapped_column_the_table_lacks(tmp_path: Path) -> None:
    columns = tuple(c if c != "POS" else "POSITION" for c in COLUMNS)
    error = _bad(tmp_path, columns=columns)
    file, row, column, message = _problem(error, "missing column")
    assert (file, row, column) == ("nodes.csv", 5, "POS")  # the first joint's row
    assert "columns.joint" in message and "'position'" in message


def test_a_model_half_mapped_is_reported(tmp_path: Path) -> None:
    spec = SPEC.replace('grade = "GRADE"\n', "")
    columns = tuple(c if c != "GRADE" else "STEEL" for c in COLUMNS)
    error = _bad(tmp_path, spec=spec, columns=columns)
    file, row, column, message = _problem(error, "missing column")
    assert (file, row, column) == ("nodes.csv", 5, "grade")
    assert "welding" in message and "grade" in message


def test_a_role_with_no_model_columns_is_simply_not_unlocked(tmp_path: Path) -> None:
    spec = SPEC.split("[columns.joint]")[0]
    columns = ("id", "kind", "parent", "SYSTEM")
    yard = validate_yard(make_yard(tmp_path / "y", spec=spec, columns=columns, nodes=[r[:4] for r in NODES]))
    assert "joint" not in yard.unlocked


def test_the_cycle_is_one_path_by_id_with_where_each_step_comes_from(tmp_path: Path) -> None:
    # the weld is done before its plate, the plate before its assembly (parent), the assembly before the weld
    edges = [("W 17", "H1042/B12-A03 PL0042"), ("H1042/B12-A03", "W 17")]
    error = _bad(tmp_path, edges=edges)
    _, _, _, message = _problem(error, "cycle")
    path = message.split(": ", 1)[1]
    assert path.count(" -> ") == 3  # three steps, back to the start
    assert path.split(" -> ")[0] == path.split(" -> ")[-1].split(" (")[0]
    assert "-> 'H1042/B12-A03' (parent of nodes.csv row 3)" in path
    assert "-> 'W 17' (edge edges.csv row 2)" in path
    assert "-> 'H1042/B12-A03 PL0042' (edge edges.csv row 1)" in path
    assert error.count("cycle") == 1


def test_a_cycle_in_a_grouping_hierarchy(tmp_path: Path) -> None:
    nodes = _with(5, SYSTEM='SP-300-12"')  # the system inside its own spool's system
    error = _bad(tmp_path, nodes=nodes)
    assert "hierarchy 'system'" in _problem(error, "cycle")[3]


def test_the_first_20_of_a_kind_and_the_count(tmp_path: Path) -> None:
    nodes = NODES + [("W 17", "WELD", "H1042/B12-A03", "", *WELD)] * 30
    error = _bad(tmp_path, nodes=nodes)
    assert error.count("duplicate id") == 30
    assert len([p for p in error.problems if p.kind == "duplicate id"]) == 20
    assert "... and 10 more" in str(error)
    assert [p.row for p in error.problems if p.kind == "duplicate id"][:2] == [7, 8]


def test_the_error_pickles(tmp_path: Path) -> None:
    error = _bad(tmp_path, nodes=_with(2, kind="PLATTE"))
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.problems == error.problems


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        (('unit = "in"', 'unit = "kg"'), "columns.joint.thickness_mm.unit", ["mass"]),
        (('"FCAW-G" = "FCAW"', '"FCAW-G" = "FCAWX"'), "columns.joint.process.values.FCAW-G", ["'FCAWX'"]),
        (('length_m = "WELD_LEN"', 'lenght_m = "WELD_LEN"'), "columns.joint.lenght_m", ["no field"]),
        (('joint = "WELD"', 'joint = "BLK"'), "roles.joint", ["already has role 'block'"]),
        (('format = "shipbrain-yard/1"', 'format = "shipbrain-yard/2"'), "format", ["shipbrain-yard/1"]),
        (("[roles]", 'colour = "red"\n[roles]'), "colour", ["unknown key"]),
        (("[roles]", "[roles]\nbolck = 'B'"), "roles.bolck", ["block"]),
    ],
)
def test_spec_errors_name_the_toml_key(tmp_path: Path, change: tuple[str, str], key: str, words: list[str]) -> None:
    root = make_yard(tmp_path / "y", spec=SPEC.replace(*change))
    with pytest.raises(YardImportError) as caught:
        load_spec(root)
    problem = next(p for p in caught.value.problems if p.column == key)
    assert problem.file == "yard.toml"
    for word in words:
        assert word in problem.message
    assert f"key {key!r}" in str(caught.value)


def test_bad_toml_and_missing_tables(tmp_path: Path) -> None:
    root = make_yard(tmp_path / "y")
    (root / "yard.toml").write_text('format = "shipbrain-yard/1\n', encoding="utf-8")
    with pytest.raises(YardImportError, match="line 1"):
        load_spec(root)
    (root / "yard.toml").write_text(SPEC, encoding="utf-8")
    (root / "edges.csv").unlink()
    with pytest.raises(YardImportError) as caught:
        validate_yard(root)
    assert _problem(caught.value, "missing file")[0] == "edges"


def test_a_malformed_csv_line_names_the_file(tmp_path: Path) -> None:
    root = make_yard(tmp_path / "y")
    with (root / "edges.csv").open("a", encoding="utf-8") as handle:
        handle.write('"W 17","B1","extra"\n')
    with pytest.raises(YardImportError) as caught:
        validate_yard(root)
    file, _, _, message = _problem(caught.value, "unreadable table")
    assert file == "edges.csv" and "columns" in message


def test_calendar_and_actuals_are_checked(tmp_path: Path) -> None:
    root = make_yard(tmp_path / "y")
    _write(root / "calendar.csv", _table(("date",), [("2026-12-25",), ("2026-02-30",)]))
    _write(root / "actuals.parquet", _table(("id", "hours"), [("W 17", "3.5"), ("W 18", "2"), ("W 17", "-1")]))
    with pytest.raises(YardImportError) as caught:
        validate_yard(root)
    error = caught.value
    assert _problem(error, "wrong type")[:3] == ("calendar.csv", 2, "date")
    assert _problem(error, "unknown reference")[:3] == ("actuals.parquet", 2, "id")
    assert _problem(error, "value out of range")[:3] == ("actuals.parquet", 3, "hours")


def test_numbers_typed_in_parquet_need_no_text(tmp_path: Path) -> None:
    root = make_yard(tmp_path / "y", fmt="parquet")
    table = pq.read_table(root / "nodes.parquet")
    thickness = pa.array([None, None, None, None, 0.5, None], type=pa.float64())
    table = table.set_column(COLUMNS.index("THK_IN"), "THK_IN", thickness)
    pq.write_table(table, root / "nodes.parquet")
    assert validate_yard(root).num_nodes == 6
    assert np.array_equal(validate_yard(root).parent, [-1, 0, 1, 1, 1, -1])
