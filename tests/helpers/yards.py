"""Small generated yards and the bulk carrier sample as imported stores, and networkx twins, shared by the tests.

`make_yard` gives what a user gets from `shipbrain yard generate`: the synthetic yard written in the open yard
format and imported (`knowledge.synthetic.yardformat.write_format` -> `knowledge.importer.import_yard`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import networkx as nx
import numpy as np

from knowledge import PartGraph, YardSpec, generate_yard, write_yard
from knowledge.yarddir import _sha256


SAMPLES = Path(__file__).resolve().parents[2] / "knowledge" / "samples"
BULK_CARRIER = SAMPLES / "bulk_carrier"
"""The bulk carrier sample in the open yard format (its own ids, kinds and column names)."""


def make_yard(root: Path, parts: int, seed: int) -> Path:
    """Generate the synthetic yard, write it in the open format and import it under `root`; returns the store."""
    from knowledge.importer import import_yard
    from knowledge.synthetic.yardformat import write_format

    out = root / f"yard-{parts}-{seed}"
    if not (out / "manifest.json").exists():
        source = write_format(generate_yard(YardSpec(parts=parts, seed=seed)), root / f"format-{parts}-{seed}")
        import_yard(source, out)
    return out


def bulk_carrier_store(root: Path) -> Path:
    """The bulk carrier sample imported under `root` (once); returns the store."""
    from knowledge.importer import import_yard

    out = root / "bulk-carrier"
    if not (out / "manifest.json").exists():
        import_yard(BULK_CARRIER, out)
    return out


def make_partgraph_yard(root: Path, parts: int, seed: int) -> Path:
    """The generator's own store (format 3, `PartGraph`), for the tests of that format while it lasts."""
    out = root / f"partgraph-{parts}-{seed}"
    if not (out / "manifest.json").exists():
        write_yard(generate_yard(YardSpec(parts=parts, seed=seed)), out)
    return out


def to_networkx(g: PartGraph) -> nx.DiGraph:
    """The same graph as a networkx DiGraph, built from the edge arrays."""
    src, dst = g.edge_arrays()
    graph = nx.DiGraph()
    graph.add_nodes_from(range(g.num_nodes))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    return graph


def copy_yard(src: Path, dst: Path) -> Path:
    """A private copy of a yard that a test may damage."""
    shutil.copytree(src, dst)
    return dst


def rewrite_manifest_entry(yard: Path, rel: str) -> None:
    """Record a changed file's new size and checksum, as a careless tool would."""
    mpath = yard / "manifest.json"
    manifest = json.loads(mpath.read_text())
    path = yard / rel
    manifest["files"][rel] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    mpath.write_text(json.dumps(manifest))


def save_graph_with_extra_edge(yard: Path, u: int, v: int) -> None:
    """Add edge u -> v to a yard's CSR arrays (both directions) and fix the manifest so only the graph is wrong."""
    g = PartGraph.open(yard)
    src, dst = g.edge_arrays()
    src = np.append(src, np.int32(u))
    dst = np.append(dst, np.int32(v))
    n = g.num_nodes
    for name, (a, b) in {"forward": (src, dst), "reverse": (dst, src)}.items():
        order = np.argsort(a, kind="stable")
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
        np.save(yard / "graph" / f"{name}_indptr.npy", indptr)
        np.save(yard / "graph" / f"{name}_indices.npy", b[order].astype(np.int32))
    manifest = json.loads((yard / "manifest.json").read_text())
    manifest["num_edges"] = len(src)
    (yard / "manifest.json").write_text(json.dumps(manifest))
    for name in ("forward_indptr", "forward_indices", "reverse_indptr", "reverse_indices"):
        rewrite_manifest_entry(yard, f"graph/{name}.npy")
