"""A third, deliberately sparse yard unlike the synthetic one and the bulk carrier: CSV only, its own words.

Ids hold spaces, slashes, unicode and lower case (`船体 B1`, `S/1 P-001`, `naht/b1 01`); kinds are German words
(`Sektion`, `Bauteil`, `Naht`); only the roles block, part and joint at first: no assemblies, no outfitting items,
no work packages, no resources, no actuals, no calendar. The joint fields the welding model requires are mapped
from other units (thickness in cm, length in feet) and other words. `with_packages=True` adds work packages and
resources (nodes of their own kinds) and the edges between packages, but neither norm hours nor the packages'
block refs.
"""

from __future__ import annotations

import csv
from pathlib import Path

BLOCKS = ("船体 B1", "船体 B2", "deck/b3")
"""The blocks: B2 rests on B1, deck/b3 on B2."""
TRADES = ("zuschnitt", "schweißen", "montage")
"""The trades of each block's packages, in the order a block goes through them (montage erects it)."""

_SPEC = """\
format = "shipbrain-yard/1"
name = "Werft Drei, Küstenmotorschiff"
day0 = 2026-01-05

[roles]
block = "Sektion"
part = "Bauteil"
joint = "Naht"
{extra_roles}
[columns.block]
zone = "Zone"
{block_extra}
[columns.part]
thickness_mm = {{ column = "Dicke", unit = "cm" }}

[columns.joint]
joint_type = {{ column = "Nahtart", values = {{ Stumpf = "butt", Kehl = "fillet" }} }}
process = {{ column = "Verfahren", values = {{ UP = "SAW", MAG = "GMAW", "FCAW-F" = "FCAW", EH = "SMAW" }} }}
position = {{ column = "Lage", values = {{ PA = "1G", PC = "2G", PF = "3G", PB = "2F", PD = "4F" }} }}
grade = {{ column = "Werkstoff", values = {{ "S235" = "A", "S355" = "AH36" }} }}
thickness_mm = {{ column = "Dicke", unit = "cm" }}
length_m = {{ column = "Länge", unit = "ft" }}
{joint_extra}{packages}"""

_PACKAGE_SPEC = """
[columns.work_package]
trade = "Gewerk"
estimated_hours = { column = "Stunden", unit = "min" }
resource = "Platz"
crew = "Leute"

[columns.resource]
resource_kind = "Art"
capacity = "Kapazität"
"""

_COLUMNS = ("id", "kind", "parent", "name", "Zone", "Dicke", "Nahtart", "Verfahren", "Lage", "Werkstoff", "Länge")
_PACKAGE_COLUMNS = ("Paket", "Gewerk", "Stunden", "Platz", "Leute", "Art", "Kapazität")


def _package(block: str, trade: str) -> str:
    return f"ap {block} {trade}"


def _add_packages(rows: list[dict[str, str]], edges: list[tuple[str, str]]) -> None:
    """The resources, each block's packages in trade order and the erections one after another; blocks name theirs."""
    rows += [
        {"id": "halle 1", "kind": "Ressource", "parent": "", "Art": "werkstatt", "Kapazität": "2"},
        {"id": "dock/ä", "kind": "Ressource", "parent": "", "Art": "dock", "Kapazität": "1"},
    ]
    for b, block in enumerate(BLOCKS):
        for t, trade in enumerate(TRADES):
            code = _package(block, trade)
            place = "dock/ä" if trade == "montage" else "halle 1"
            minutes = 60 * (40 + 10 * b + 15 * t)
            rows.append(
                {"id": code, "kind": "Arbeitspaket", "parent": "", "Gewerk": trade, "Stunden": str(minutes)}
                | {"Platz": place, "Leute": str(3 + t)}
            )
            if t:
                edges.append((_package(block, TRADES[t - 1]), code))
        if b:
            edges.append((_package(BLOCKS[b - 1], "montage"), _package(block, "montage")))
    for row in rows:
        if row["kind"] == "Sektion":
            row["Paket"] = _package(row["id"], "montage")


def write_third_yard(directory: Path, *, with_packages: bool = False) -> Path:
    """Write the third yard in the open format (CSV only) into `directory`; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    columns = _COLUMNS + (_PACKAGE_COLUMNS if with_packages else ())
    rows: list[dict[str, str]] = []
    edges: list[tuple[str, str]] = []
    processes = ("UP", "MAG", "FCAW-F", "EH")
    positions = ("PA", "PC", "PF", "PB", "PD")
    for b, block in enumerate(BLOCKS):
        rows.append({"id": block, "kind": "Sektion", "parent": "", "name": f"Sektion {b + 1}", "Zone": "achtern"})
        tag = block.split()[-1].split("/")[-1]
        parts = [f"S/{b + 1} P-{p:03d}" if b < 2 else f"{tag} teil {p}" for p in range(1, 5)]
        for p, part in enumerate(parts):
            rows.append({"id": part, "kind": "Bauteil", "parent": block, "Dicke": f"{1.0 + 0.2 * p:.1f}"})
        for j in range(3):
            joint = f"naht/{tag} {j + 1:02d}" if b != 1 else f"Schweißnaht {tag}-{j + 1}"
            butt = j % 2 == 0
            row = {
                "id": joint,
                "kind": "Naht",
                "parent": block,
                "Dicke": f"{1.2 + 0.1 * j:.1f}",
                "Nahtart": "Stumpf" if butt else "Kehl",
                "Verfahren": processes[(b + j) % len(processes)],
                "Lage": positions[(b + j) % 3] if butt else positions[3 + (b + j) % 2],
                "Werkstoff": "S355" if j else "S235",
                "Länge": f"{6.5 + 3 * j:.1f}",
            }
            if with_packages:
                row["Paket"] = _package(block, "schweißen")
            rows.append(row)
            edges += [(parts[j], joint), (parts[j + 1], joint)]
        if b:
            edges.append((BLOCKS[b - 1], block))
    if with_packages:
        _add_packages(rows, edges)
    with (directory / "nodes.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    with (directory / "edges.csv").open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([("before", "after"), *edges])
    spec = _SPEC.format(
        extra_roles='work_package = "Arbeitspaket"\nresource = "Ressource"\n' if with_packages else "",
        block_extra='work_package = "Paket"\n' if with_packages else "",
        joint_extra='work_package = "Paket"\n' if with_packages else "",
        packages=_PACKAGE_SPEC if with_packages else "",
    )
    (directory / "yard.toml").write_text(spec, encoding="utf-8")
    return directory


def third_yard_store(root: Path, *, with_packages: bool = False) -> Path:
    """The third yard written under `root` and imported (once); returns the store."""
    from knowledge.importer import import_yard

    name = "third-yard-packages" if with_packages else "third-yard"
    out = root / name
    if not (out / "manifest.json").exists():
        import_yard(write_third_yard(root / f"{name}-source", with_packages=with_packages), out)
    return out
