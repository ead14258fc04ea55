"""A small copy of a reviewer's own yard (NB 512 "Nordlicht", a catamaran ferry): a yard nothing in Shipbrain knows.

German kinds and columns (`sektion`, `paneel`, `naht`, `anlage`, `ZONE`, `SOLL_STD`), ids with spaces, dots, '#',
hyphens and umlauts (`sec-01.bb`, `naht sec-01.bb #00007`, `brü-01`), two ids that differ only by case
(`Ventil V-1`, `ventil v-1`), items with an empty `ZONE` (their blocks give the zone), a system hierarchy
(`[hierarchies] anlage = "ANLAGE"`, systems `anl 4711` ...) that is no production parent, ISO process numbers, cm and
minutes. Node tables are written as Parquet by pandas' own `to_parquet` (pandas 3 writes `large_string`), the joints
and work packages as CSV, so one import mixes both. Small: 6 blocks, 12 panels, about 200 nodes.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Final

import pandas as pd

BLOCKS: Final = ("sec-01.bb", "sec-02.bb", "sec-01.sb", "sec-02.sb", "brü-01", "brü-02")
"""The blocks: two per hull, the bridge's two on top."""
ZONES: Final = {"sec-01.bb": "MVZ 1", "sec-02.bb": "MVZ 2", "sec-01.sb": "MVZ 1", "sec-02.sb": "MVZ 2"}
"""Each hull block's zone (the bridge's: MVZ 3)."""
SYSTEMS: Final = ("anl 4711", "anl 5100")
"""The systems (kind `anlage`, no role): items name theirs in column ANLAGE."""
VALVES: Final = ("Ventil V-1", "ventil v-1")
"""Two items whose ids differ only by case, both in sec-02.bb, system anl 4711."""

TOML: Final = """\
format = "shipbrain-yard/1"
name = "NB 512 Nordlicht (klein)"
day0 = 2026-03-02
kinds = ["rumpf", "anlage"]

[roles]
block = "sektion"
assembly = "paneel"
part = ["blech", "profil"]
joint = "naht"
outfitting_item = ["rohr", "gerät"]
work_package = "ap"
resource = "res"

[hierarchies]
anlage = "ANLAGE"

[tables]
nodes = ["rumpfteile", "naehte.csv", "ausruestung", "arbeitspakete.csv", "ressourcen"]
edges = "folge"

[columns.block]
zone = "ZONE"
work_package = "AP"

[columns.joint]
joint_type = { column = "NAHTART", values = { stumpf = "butt", kehl = "fillet" } }
process = { column = "PROZESS", values = { "121" = "SAW", "136" = "FCAW", "135" = "GMAW", "111" = "SMAW" } }
position = { column = "LAGE", values = { "PA/s" = "1G", "PF/s" = "3G", "PA/k" = "1F", "PB/k" = "2F" } }
access = { column = "ZUGANG", values = { frei = "good", eng = "restricted", schlecht = "poor" } }
one_sided = { column = "EINSEITIG", values = { ja = true, nein = false } }
grade = { column = "WERKSTOFF", values = { S235JR = "A", S355J2 = "AH36" } }
thickness_mm = { column = "DICKE_CM", unit = "cm" }
length_m = { column = "LAENGE_CM", unit = "cm" }
work_package = "AP"
norm_hours = { column = "NORM_MIN", unit = "min" }

[columns.outfitting_item]
item_kind = { column = "ART", values = { ROHR = "pipe_spool", "GERÄT" = "equipment" } }
system = "SYSTEMNAME"
length_m = { column = "LAENGE_CM", unit = "cm" }
weight_t = { column = "GEWICHT_KG", unit = "kg" }
norm_hours = "NORM_STD"
stage = { column = "STUFE", values = { vormontage = "on-unit", block = "on-block", bord = "on-board" } }
block = "SEKTION"
zone = "ZONE"
work_package = "AP"

[columns.work_package]
trade = "GEWERK"
estimated_hours = "SOLL_STD"
resource = "RESSOURCE"
block = "SEKTION"

[columns.resource]
resource_kind = "ART"
capacity = "KAP"
"""


def write_foreign_yard(out: Path, *, extra_toml: str = "") -> Path:
    """The yard in the open format under `out` (`extra_toml` appended to its yard.toml); returns `out`."""
    rng = random.Random(512)
    out.mkdir(parents=True, exist_ok=True)
    (out / "yard.toml").write_text(TOML + extra_toml, encoding="utf-8")
    hull: list[dict[str, object]] = [
        {"id": h, "kind": "rumpf", "parent": None} for h in ("rumpf bb", "rumpf sb", "brücke")
    ]
    joints: list[dict[str, object]] = []
    items: list[dict[str, object]] = [{"id": s, "kind": "anlage", "parent": None} for s in SYSTEMS]
    packages: list[dict[str, object]] = []
    edges: list[tuple[str, str]] = []
    part_no = joint_no = item_no = 0
    for block in BLOCKS:
        hull_of = "brücke" if block.startswith("brü") else f"rumpf {block[-2:]}"
        wp = {t: f"ap {block} {t}" for t in ("fertigung", "ausrüstung", "aufbau")}
        zone = ZONES.get(block, "MVZ 3")
        hull.append({"id": block, "kind": "sektion", "parent": hull_of, "ZONE": zone, "AP": wp["aufbau"]})
        for u in (1, 2):
            panel = f"{block}/u{u:02d}"
            hull.append({"id": panel, "kind": "paneel", "parent": block})
            parts = []
            for _ in range(4):
                part_no += 1
                parts.append(f"{panel}/p-{part_no:06d}")
                hull.append({"id": parts[-1], "kind": "blech" if part_no % 2 else "profil", "parent": panel})
            for k in range(3):
                joint_no += 1
                jid = f"naht {block} #{joint_no:05d}"
                joints.append(_joint(jid, panel, k == 0, wp["fertigung"], rng))
                edges += [(parts[k], jid), (parts[k + 1], jid)]
        for system, (art, kind) in zip(SYSTEMS, (("ROHR", "rohr"), ("GERÄT", "gerät")), strict=True):
            for _ in range(3):
                item_no += 1
                items.append(_item(f"{system.split()[1]}.{item_no:04d} {block}", kind, block, system, art, rng))
        for before, after in (("fertigung", "ausrüstung"), ("ausrüstung", "aufbau")):
            edges.append((wp[before], wp[after]))
        resource = {"fertigung": "paneelstraße 1", "ausrüstung": "ausrüstungshalle", "aufbau": "dock 1"}
        for trade, id_ in wp.items():
            packages.append(
                {
                    "id": id_,
                    "kind": "ap",
                    "parent": "",
                    "GEWERK": trade,
                    "SOLL_STD": f"{rng.uniform(40, 200):.1f}",
                    "RESSOURCE": resource[trade],
                    "SEKTION": block,
                }
            )
    for a, b in (("sec-01.bb", "sec-02.bb"), ("sec-01.sb", "sec-02.sb"), ("sec-02.bb", "brü-01"), ("brü-01", "brü-02")):
        edges += [(a, b), (f"ap {a} aufbau", f"ap {b} aufbau")]
    for valve in VALVES:
        items.append(_item(valve, "gerät", "sec-02.bb", SYSTEMS[0], "GERÄT", rng))
    pd.DataFrame(hull).to_parquet(out / "rumpfteile.parquet", index=False)
    pd.DataFrame(items).to_parquet(out / "ausruestung.parquet", index=False)
    pd.DataFrame(
        [
            {"id": r, "kind": "res", "parent": None, "ART": art, "KAP": 1}
            for r, art in (("paneelstraße 1", "paneelstraße"), ("ausrüstungshalle", "halle"), ("dock 1", "dock"))
        ]
    ).to_parquet(out / "ressourcen.parquet", index=False)
    pd.DataFrame(edges, columns=["before", "after"]).to_parquet(out / "folge.parquet", index=False)
    _csv(out / "naehte.csv", joints)
    _csv(out / "arbeitspakete.csv", packages)
    return out


def _joint(id_: str, panel: str, butt: bool, package: str, rng: random.Random) -> dict[str, object]:
    return {
        "id": id_,
        "kind": "naht",
        "parent": panel,
        "NAHTART": "stumpf" if butt else "kehl",
        "PROZESS": rng.choice(["121", "136", "135", "111"]),
        "LAGE": rng.choice(["PA/s", "PF/s"] if butt else ["PA/k", "PB/k"]),
        "ZUGANG": rng.choice(["frei", "eng", "schlecht"]),
        "EINSEITIG": rng.choice(["ja", "nein"]),
        "WERKSTOFF": rng.choice(["S235JR", "S355J2"]),
        "DICKE_CM": str(rng.choice([0.8, 1.2, 2.5])),
        "LAENGE_CM": str(rng.randint(60, 600)),
        "AP": package,
        "NORM_MIN": str(rng.randint(30, 400)),
    }


def _item(id_: str, kind: str, block: str, system: str, art: str, rng: random.Random) -> dict[str, object]:
    return {
        "id": id_,
        "kind": kind,
        "parent": block,
        "ANLAGE": system,
        "SYSTEMNAME": "Feuerlöschleitung" if system == SYSTEMS[0] else "Hilfsmaschinen",
        "ART": art,
        "LAENGE_CM": float(rng.randint(30, 600)),
        "GEWICHT_KG": float(rng.randint(5, 900)),
        "NORM_STD": round(rng.uniform(0.5, 8), 2),
        "STUFE": rng.choice(["vormontage", "block", "bord"]),
        "SEKTION": block,
        "ZONE": None,
        "AP": f"ap {block} ausrüstung",
    }


def _csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def foreign_yard_store(root: Path, *, extra_toml: str = "") -> Path:
    """The yard written under `root` and imported (once); returns the store."""
    from knowledge.importer import import_yard

    store = root / "store"
    if not (store / "manifest.json").exists():
        import_yard(write_foreign_yard(root / "yard", extra_toml=extra_toml), store)
    return store
