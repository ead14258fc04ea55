"""A small copy of a reviewer's yard (NB 512 "Nordlicht", a catamaran ferry) for the scheduler: nothing in it is ours.

Two hulls of three blocks each (`sec-01.bb` ... `sec-03.sb`), erected in parallel in two docks; every erection
needs the gantry crane `portalkran`, whose kind is the German `kran` and which lifts two blocks at once (capacity
2). Each block is welded on one of two panel lines (`paneelstraße 1/2`), fitted out in `ausrüstungshalle` and
erected (`aufbau`). The calendar: Sundays and Easter Monday for the whole yard, and a maintenance week of `dock 2`
(2026-03-16 to 2026-03-20, Monday to Friday). `ap sec-02.bb fertigung` is estimated at far fewer hours than the
planning norms of its own joints (the yard's estimate and its norms disagree). German columns, ids with spaces,
dots, '#' and umlauts; the node tables are Parquet, the work packages and the calendar CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DAY0: Final = dt.date(2026, 3, 2)
"""A Monday."""
HULLS: Final = ("bb", "sb")
BLOCKS: Final = tuple(f"sec-{k:02d}.{h}" for h in HULLS for k in (1, 2, 3))
"""The blocks: three per hull, each resting on the one before it."""
CRANE: Final = "portalkran"
"""The crane every erection needs: kind `kran`, capacity 2."""
DOCK_OF: Final = {"bb": "dock 1", "sb": "dock 2"}
MAINTENANCE: Final = tuple(dt.date(2026, 3, 16) + dt.timedelta(days=k) for k in range(5))
"""The days `dock 2` is out of service while the yard works."""
EASTER_MONDAY: Final = dt.date(2026, 4, 6)
OVERDRAWN: Final = "ap sec-02.bb fertigung"
"""The package whose estimate (`OVERDRAWN_ESTIMATE`) is far below its joints' norms."""
OVERDRAWN_ESTIMATE: Final = 4.0
TRADES: Final = ("fertigung", "ausrüstung", "aufbau")

TOML: Final = """\
format = "shipbrain-yard/1"
name = "NB 512 Nordlicht (Terminplan)"
day0 = 2026-03-02
kinds = ["rumpf"]

[roles]
block = "sektion"
assembly = "paneel"
part = ["blech", "profil"]
joint = "naht"
work_package = "ap"
resource = "res"

[tables]
nodes = ["rumpfteile", "naehte", "arbeitspakete.csv", "ressourcen"]
edges = "folge"
calendar = "kalender.csv"

[columns.block]
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

[columns.work_package]
trade = "GEWERK"
estimated_hours = "SOLL_STD"
resource = "RESSOURCE"
crane = "KRAN"
block = "SEKTION"
crew = "KOLONNE"

[columns.resource]
resource_kind = "ART"
capacity = "KAP"
"""

RESOURCES: Final = (
    ("paneelstraße 1", "paneelstraße", 1),
    ("paneelstraße 2", "paneelstraße", 1),
    ("ausrüstungshalle", "halle", 2),
    ("dock 1", "dock", 1),
    ("dock 2", "dock", 1),
    (CRANE, "kran", 2),
)


def calendar_rows(last: dt.date = dt.date(2026, 12, 31)) -> list[tuple[str, str, str]]:
    """(date, resource, GRUND): every Sunday and Easter Monday for the whole yard, dock 2's maintenance week."""
    rows = []
    day = DAY0 + dt.timedelta(days=6)  # the first Sunday
    while day <= last:
        rows.append((day.isoformat(), "", "Sonntag"))
        day += dt.timedelta(days=7)
    rows.append((EASTER_MONDAY.isoformat(), "", "Ostermontag"))
    rows += [(d.isoformat(), "dock 2", "Wartung") for d in MAINTENANCE]
    return sorted(rows)


def write_nordlicht(out: Path, *, calendar: bool = True, crane_kind: str = "kran") -> Path:
    """The yard in the open format under `out` (without its calendar, or with another kind of crane); returns `out`."""
    rng = random.Random(512)
    out.mkdir(parents=True, exist_ok=True)
    toml = TOML if calendar else TOML.replace('calendar = "kalender.csv"\n', "")
    (out / "yard.toml").write_text(toml, encoding="utf-8")
    hull: list[dict[str, object]] = [{"id": f"rumpf {h}", "kind": "rumpf", "parent": None} for h in HULLS]
    joints: list[dict[str, object]] = []
    packages: list[dict[str, object]] = []
    edges: list[tuple[str, str]] = []
    part_no = joint_no = 0
    for b, block in enumerate(BLOCKS):
        side = block[-2:]
        wp = {t: f"ap {block} {t}" for t in TRADES}
        hull.append({"id": block, "kind": "sektion", "parent": f"rumpf {side}", "AP": wp["aufbau"]})
        many = wp["fertigung"] == OVERDRAWN
        for u in (1, 2):
            panel = f"{block}/u{u:02d}"
            hull.append({"id": panel, "kind": "paneel", "parent": block})
            parts = []
            for _ in range(5):
                part_no += 1
                parts.append(f"{panel}/p-{part_no:06d}")
                hull.append({"id": parts[-1], "kind": "blech" if part_no % 2 else "profil", "parent": panel})
            for k in range(4):
                joint_no += 1
                jid = f"naht {block} #{joint_no:05d}"
                joints.append(_joint(jid, panel, k % 2 == 0, wp["fertigung"], 600 if many else 60, rng))
                edges += [(parts[k], jid), (parts[k + 1], jid)]
        hours = {"fertigung": rng.uniform(150, 260), "ausrüstung": rng.uniform(60, 120), "aufbau": rng.uniform(60, 90)}
        hours["fertigung"] = OVERDRAWN_ESTIMATE if many else hours["fertigung"]
        resource = {"fertigung": f"paneelstraße {1 + b % 2}", "ausrüstung": "ausrüstungshalle", "aufbau": DOCK_OF[side]}
        for trade in TRADES:
            packages.append(
                {
                    "id": wp[trade],
                    "kind": "ap",
                    "parent": "",
                    "GEWERK": trade,
                    "SOLL_STD": f"{hours[trade]:.1f}",
                    "RESSOURCE": resource[trade],
                    "KRAN": CRANE if trade == "aufbau" else "",
                    "SEKTION": block,
                    "KOLONNE": "4",
                }
            )
        edges += [(wp["fertigung"], wp["ausrüstung"]), (wp["ausrüstung"], wp["aufbau"])]
        if block[5] != "1":  # rests on the block before it in its hull
            before = f"sec-{int(block[4:6]) - 1:02d}.{side}"
            edges += [(before, block), (f"ap {before} aufbau", wp["aufbau"])]
    _parquet(pd.DataFrame(hull), out / "rumpfteile.parquet")
    _parquet(pd.DataFrame(joints), out / "naehte.parquet")
    kinds = {name: crane_kind if name == CRANE else kind for name, kind, _ in RESOURCES}
    resources = [{"id": n, "kind": "res", "parent": None, "ART": kinds[n], "KAP": c} for n, _, c in RESOURCES]
    _parquet(pd.DataFrame(resources), out / "ressourcen.parquet")
    _parquet(pd.DataFrame(edges, columns=["before", "after"]), out / "folge.parquet")
    _csv(out / "arbeitspakete.csv", packages)
    if calendar:
        with (out / "kalender.csv").open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([("date", "resource", "GRUND"), *calendar_rows()])
    return out


def _joint(id_: str, panel: str, butt: bool, package: str, minutes: int, rng: random.Random) -> dict[str, object]:
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
        "LAENGE_CM": str(rng.randint(100, 600)),
        "AP": package,
        "NORM_MIN": str(minutes + rng.randint(0, 30)),
    }


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet with plain string columns (the scheduler's tests do not depend on how pandas writes text)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type) for f in table.schema]
    pq.write_table(table.cast(pa.schema(fields)), path)


def _csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def nordlicht_store(root: Path, *, calendar: bool = True, crane_kind: str = "kran") -> Path:
    """The yard written under `root` and imported (once); returns the store."""
    from knowledge.importer import import_yard

    store = root / "store"
    if not (store / "manifest.json").exists():
        import_yard(write_nordlicht(root / "yard", calendar=calendar, crane_kind=crane_kind), store)
    return store
