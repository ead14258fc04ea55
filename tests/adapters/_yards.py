"""Yards that do not give some fields, for the adapters' tests: a yard in the open format, less some mappings."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from knowledge.importer import import_yard
from knowledge.store import YardStore

__all__ = ["imported_without", "without_mappings"]


def without_mappings(toml: str, section: str, fields: list[str]) -> str:
    """`yard.toml` text with the mappings of some fields of one `[columns.<section>]` removed."""
    out, current = [], None
    for line in toml.splitlines():
        header = re.match(r"\[(.+)\]\s*$", line.strip())
        if header:
            current = header.group(1)
        name = line.split("=", 1)[0].strip()
        if current == f"columns.{section}" and name in fields:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def imported_without(source: Path, work: Path, drop: dict[str, list[str]]) -> YardStore:
    """A copy of a yard in the open format that does not give some fields (by section), imported under `work`.

    Their mappings leave its yard.toml, and a table's column named like one of them (which maps itself) goes.
    """
    copy = work / "source"
    shutil.copytree(source, copy)
    toml = (copy / "yard.toml").read_text()
    for section, fields in drop.items():
        smaller = without_mappings(toml, section, fields)
        assert smaller != toml, f"no {fields} in [columns.{section}]"
        toml = smaller
    (copy / "yard.toml").write_text(toml)
    gone = {f for fields in drop.values() for f in fields}
    for table in copy.glob("*.parquet"):
        columns = pq.read_schema(table).names
        if gone & set(columns):
            pq.write_table(pq.read_table(table, columns=[c for c in columns if c not in gone]), table)
    import_yard(copy, work / "store")
    return YardStore.open(work / "store")
