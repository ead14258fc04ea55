"""Reading a model's input rows from an imported yard: the fields it gives, the models' defaults for the rest.

Shared by `adapters.welding` and `adapters.outfitting` (`yard_rows`) and `adapters.training`. Everything is read
by role and field (`knowledge.store.YardStore.role_table`), never by a yard's own kinds or column names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from knowledge.store import YardStore

__all__ = ["neighbour_blocks", "role_nodes", "role_rows_with_defaults"]


def role_nodes(yard: YardStore, role: str, nodes: npt.ArrayLike | None) -> npt.NDArray[np.int32]:
    """The nodes of `role` to read: all of them, or those of `nodes` that play it (ascending, once each)."""
    members = yard.nodes_of_role(role)
    if nodes is None:
        return members
    chosen = np.unique(np.asarray(nodes, dtype=np.int64).ravel())
    return chosen[yard.role_rows(role, chosen) >= 0].astype(np.int32)


def role_rows_with_defaults(
    yard: YardStore,
    role: str,
    nodes: npt.NDArray[np.int32],
    fields: Sequence[str],
    required: Sequence[str],
    defaults: Mapping[str, object],
    purpose: str,
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """The columns `fields` of the role's rows for `nodes` (ascending nodes of the role), in the brain's names.

    A field in `required` the yard does not give raises `MissingFieldError` (naming it and how to map it); a
    field the yard does not give, or a row's null, takes its value from `defaults`; a field with no default
    that the yard does not give is left out (the caller derives it).
    """
    yard.require(role, required, purpose)
    given = set(yard.fields(role))
    read = [f for f in fields if f in given]
    everything = nodes is yard.nodes_of_role(role) or len(nodes) == yard.count(role)
    table = yard.role_table(role, read, None if everything else nodes)
    if table.num_rows != len(nodes):  # the store's rows are in node order, one per node of the role
        raise AssertionError(f"{role} rows: {table.num_rows} read for {len(nodes)} nodes")
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name in fields:
        default = defaults.get(name)
        if name in given:
            column = table.column(name)
            if default is not None and column.null_count:
                column = column.fill_null(default)
            out[name] = column
        elif default is not None:
            out[name] = pa.repeat(pa.scalar(default), len(nodes))
    return out


def neighbour_blocks(
    yard: YardStore, nodes: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """Per node, the blocks of its direct predecessors and successors by the graph, as (position, block) pairs.

    Position is the node's index in `nodes`; blocks are those of the neighbours (`yard.block_of`), -1 left out.
    """
    if not len(nodes):
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    before, after_in = yard.edges_into(nodes)
    after_from, later = yard.edges_from(nodes)
    node = np.concatenate([after_in, after_from]).astype(np.int64)
    other = np.concatenate([before, later])
    block = yard.block_of(other).astype(np.int64) if len(other) else np.zeros(0, np.int64)
    keep = block >= 0
    position = np.searchsorted(nodes, node[keep]).astype(np.int32)
    return position, block[keep]
