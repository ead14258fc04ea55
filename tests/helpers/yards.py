"""Small generated yards and the bulk carrier sample as imported stores, and networkx twins, shared by the tests.

`make_yard` gives what a user gets from `shipbrain yard generate`: the synthetic yard written in the open yard
format and imported (`knowledge.generate_store`: generate -> open format -> `knowledge.importer.import_yard`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import networkx as nx

from knowledge import YardSpec, generate_store
from knowledge.store import YardStore

SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"
BULK_CARRIER = SAMPLES / "bulk_carrier"
"""The bulk carrier sample in the open yard format (its own ids, kinds and column names)."""


def make_yard(root: Path, parts: int, seed: int) -> Path:
    """The synthetic yard of `parts` and `seed` as an imported store under `root` (made once); returns the store."""
    out = root / f"yard-{parts}-{seed}"
    if not (out / "manifest.json").exists():
        generate_store(YardSpec(parts=parts, seed=seed), out)
    return out


def bulk_carrier_store(root: Path) -> Path:
    """The bulk carrier sample imported under `root` (once); returns the store."""
    from knowledge.importer import import_yard

    out = root / "bulk-carrier"
    if not (out / "manifest.json").exists():
        import_yard(BULK_CARRIER, out)
    return out


def bulk_carrier_edited(root: Path, edit: Callable[[str, str], str | None]) -> Path:
    """The bulk carrier imported again under `root`, each yard.toml line as `edit(section, line)` gives it (None: the
    line is left out; `section` is the `[...]` header above it): a yard that maps less, or otherwise. Returns the store.
    """
    from knowledge.importer import import_yard

    source = root / "source"
    shutil.copytree(BULK_CARRIER, source)
    toml = source / "yard.toml"
    lines, section = [], ""
    for line in toml.read_text().splitlines():
        section = line.strip() if line.startswith("[") else section
        edited = edit(section, line)
        if edited is not None:
            lines.append(edited)
    toml.write_text("\n".join(lines) + "\n")
    import_yard(source, root / "store")
    return root / "store"


def to_networkx(yard: YardStore) -> nx.DiGraph:
    """The same graph as a networkx DiGraph, built from the store's edge arrays (child -> parent included)."""
    src, dst = yard.edge_arrays()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(yard.num_nodes))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return graph


def copy_yard(src: Path, dst: Path) -> Path:
    """A private copy of a yard that a test may damage."""
    shutil.copytree(src, dst)
    return dst
