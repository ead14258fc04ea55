"""The open yard format, version 1: how a shipyard's own product model comes into Shipbrain.

A yard is a directory:

```
myyard/
  yard.toml          format = "shipbrain-yard/1", name, day0, kinds, [roles], [hierarchies], [columns], [tables],
                     optional [ndt]: the yard's own NDT rules (`NdtRulesSpec`; none: the brain's built-in defaults)
  nodes.parquet      (or nodes.csv) id, kind, parent (empty for a root), optional name, any columns
  edges.parquet      (or edges.csv) before, after        # `before` must be done before `after`
  work_packages.*    optional: more node rows (work packages), with their own columns
  resources.*        optional: more node rows (panel lines, workshops, cranes, the dock)
  calendar.*         optional: non-working days: date, resource (empty: the whole yard)
  actuals.*          optional: what happened: id, hours, start, finish, defect, defect_class, rework
```

**The contract.**

- *Ids* are the yard's own: any UTF-8 string of 1 to 128 bytes without control characters (`H1234/B12-A03
  PL0042`, `SP-300-12"`, `船体-B12`), case-sensitive, unique over every node table.
- *Nodes* have an `id`, a `kind` (the yard's word: `BLK`, `PLATE`...) and a production `parent` (empty for a
  root). A child is done before its parent. Every kind is either mapped to a role in `[roles]` or listed in
  `kinds = [...]`; any other kind is a typo and is reported.
- *Edges* say `before` is done before `after`. Edges and the production hierarchy together must have no cycle.
- *Other hierarchies* (systems, zones, work-package membership) are extra parent columns named in
  `[hierarchies]` (`system = "SYSTEM"`): they group nodes and imply no order; each must have no cycle. What a
  node groups (a system's items) is what questions about it cover (`YardStore.group_members`).
- *Roles* (`[roles]`) tell the brain what a kind is: block, assembly, sub_assembly, part, joint, outfitting_item,
  work_package, resource; a kind may have one role, a role many kinds (`part = ["PLATE", "PROFILE"]`). A kind
  with no role is still a node: graph questions work on it.
- *Columns* (`[columns.<role>]`, and `[columns.actuals]`) map the fields the brain's models read
  (`knowledge.yardformat.fields.FIELDS`) to the yard's columns, with the unit the yard's values are in and a
  value map: `thickness_mm = { column = "THK", unit = "in" }`, `process = { column = "WELD_PROC", values =
  { "FCAW-G" = "FCAW" } }`, or just `length_m = "WELD_LEN"`. A field not mapped is read from a column of its own
  name when there is one. Values are converted to the field's unit and checked against its type, words and
  bounds (a thickness of 250 mm is reported as a likely unit mistake).
- *Where a kind's columns live.* On its node rows: a field of a role is a column of the node table that holds
  that role's rows. A yard may split its nodes over several tables (`[tables] nodes = ["hull", "welds",
  "spools"]`), one per kind as design systems export them, each with its own columns; together they are one id
  space. Chosen over per-kind attribute tables joined by id because one pass over each table gives a node and
  its attributes together: no second id lookup for tens of millions of rows, no orphan or doubled attribute
  rows to check, and what a check reports (file, row, column) is where the user edits. Parquet stores the
  columns a row does not use as nulls at almost no cost, so one wide table works as well.
- *Tables* (`[tables]`) name the files when they are not the defaults above: a name with `.parquet` or `.csv`
  is a file, a bare name finds either (both at once is an error). Parquet and CSV mix freely; a CSV is UTF-8
  with a header row, read as text and converted per field.
- Rows are numbered from 1, the first data row (in a CSV, row r is on line r + 1 when no cell spans lines).

**A small example.**

```toml
format = "shipbrain-yard/1"
name = "Hull 1042, bulk carrier"
day0 = 2026-03-02
kinds = ["SYS", "PIPELINE"]          # kinds without a role

[roles]
block = "BLK"
assembly = ["ASSY", "PANEL"]
part = ["PLATE", "PROFILE"]
joint = "WELD"
outfitting_item = "SPOOL"

[hierarchies]
system = "SYSTEM"                    # a spool's pipeline, a pipeline's system: grouping, no order

[columns.joint]
process = { column = "WELD_PROC", values = { "FCAW-G" = "FCAW", "SAW-T" = "SAW" } }
thickness_mm = { column = "THK_IN", unit = "in" }
length_m = "WELD_LEN"
joint_type = "JT"
position = "POS"
grade = "GRADE"
```

```
nodes.csv                                      edges.csv
id,kind,parent,SYSTEM,WELD_PROC,THK_IN,...     before,after
B12,BLK,,,,                                    "H1042/B12-A03 PL0042",W-17
B12-A03,ASSY,B12,,,                            W-17,B12-A03
"H1042/B12-A03 PL0042",PLATE,B12-A03,,,
W-17,WELD,B12-A03,,FCAW-G,0.5,...
BALLAST,SYS,,,,
SP-300-12"",SPOOL,B12,BALLAST,,                (CSV quoting: the id is SP-300-12")
```

```python
from pathlib import Path
from knowledge.yardformat import YardImportError, order_nodes, validate_yard

try:
    yard = validate_yard(Path("myyard"))          # streams every table; nothing is written
except YardImportError as error:
    print(error)                                  # each problem: file, row, column, what to do
else:
    order = order_nodes(yard.parent, yard.kind, yard.before, yard.after)
    # order.old_of_new permutes any per-node column; block v's contents are nodes [v, order.end[v])
```

**Mapping a design system's export.** Export each object class (blocks, panels, plates, profiles, welds,
spools, equipment) as a table with its part number, its class and its production owner; put the weld list's
"after" constraints and the erection sequence into edges (the owner links need no edges: a child is done before
its parent). Name the classes in `[roles]`, list the rest (systems, zones) in `kinds`, and put each extra tree
(system -> pipeline -> spool; zone -> compartment) in a parent column named in `[hierarchies]`. Then map the
columns the models need under `[columns.<role>]`, with units (AVEVA and CADMATIC exports in mm and kg are the
defaults' units; NX/Teamcenter often in inches) and value maps for the yard's own words (welding process
codes, position codes, steel grades). Check with `validate_yard` until it passes; every message says where.

**What each role unlocks.** Every node, whatever its kind, takes part in graph questions (what comes before,
after, inside; critical paths). A role adds:

| role | unlocks | required fields |
|---|---|---|
| block | block views, erection order, readiness | none (`block_type` feeds outfitting; `zone` zone questions; |
| | | `work_package`: the package that erects it) |
| assembly, sub_assembly | roll-ups between parts and blocks | none (`work_package`: the package that makes it) |
| part | part views (grade, thickness, size, weight) | none (`work_package`) |
| joint | welding model: hours, defect risk; NDT selection | joint_type, process, position, grade, |
| | | thickness_mm, length_m (`norm_hours`: planned critical paths; `work_package`) |
| outfitting_item | outfitting model: stage, rework risk | item_kind, system, length_m, weight_t |
| | | (`stage`, `block`, `zone`: outfitting plans; `norm_hours`; `work_package`) |
| work_package | schedules, what-ifs, readiness | trade, estimated_hours (`resource`, `crane`, `block`, `crew`, |
| | | planned dates) |
| resource | resource-constrained schedules, outages | resource_kind, capacity |

**Work packages are nodes, and their order is edges.** A schedule's precedences are exactly the edges between two
work package nodes (a block's packages one after another, an erection after the erection of the block below):
put them in `edges` like any other order. Which package does a node's work is the node's `work_package` field
(a joint's or item's own package; for a block, the one that erects it; for an assembly or part, the one that
makes it). References (`work_package`, `resource`, `crane`, `block`) name node ids and are checked on import.

**Actuals** (`[columns.actuals]`) are what the models train on (`shipbrain models train --yard`): hours and NDT
findings of joints, rework of items, dates of packages. A simulated yard may also give its ground truth
(`expected_hours`, `defect_logit`): training then reports the noise floor no model can beat.

(The fields of each role, with types, units and bounds: `knowledge.yardformat.fields.FIELDS`.)

A model is unlocked for a role when all its required fields are given (`CheckedYard.unlocked`); mapping some of
them but not all is reported, since it is usually a mistake; mapping none leaves the model off for that role,
and the brain says so when asked.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
