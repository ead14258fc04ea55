"""The yard graph's longest paths (critical chains) under the yard's hours, computed once per yard and kept on disk.

One pass over the whole graph takes seconds at 25M parts (30 s on a loaded machine); every chain into any code is
then read from the two arrays (`YardStore.chain_of`). `YardContext.warm` computes the planning-norm ones, so a
restarted service's first critical-path question reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow as pa

    from adapters.registry import Registry
    from brain.core.cache import YardCache
    from brain.core.workpackages import WorkPackageIndex
    from knowledge.store import YardStore


class YardContext(Protocol):
    """What this module reads of `brain.core.YardContext` (named, not imported: the context imports this module)."""

    @property
    def yard(self) -> YardStore: ...
    @property
    def index(self) -> WorkPackageIndex: ...
    @property
    def cache(self) -> YardCache: ...
    @property
    def registry(self) -> Registry: ...
    def yard_predictions(self, model: str) -> pa.Table: ...


__all__ = ["Hours", "longest_paths", "node_hours"]

Hours: TypeAlias = Literal["planned", "predicted"]
"""Which hours weigh the nodes: the yard's planning norms or the models' predictions."""


def node_hours(ctx: YardContext, hours: Hours) -> npt.NDArray[np.float64]:
    """Per node of the yard, its hours: joints' and outfitting items' (planning norms or predictions), 0 elsewhere.

    A yard that gives no norm hours weighs its joints and items 0 under the planning norms.
    """
    yard, index = ctx.yard, ctx.index
    out = np.zeros(yard.num_nodes, dtype=np.float64)
    joints = yard.nodes_of_role("joint")
    items = yard.nodes_of_role("outfitting_item")
    if hours == "planned":
        out[joints] = index.joint_norm_hours(joints)
        out[items] = index.item_norm_hours(items)
        return out
    if len(joints):  # the kept predictions hold one row per joint, in node order
        welded = ctx.yard_predictions("welding").column("hours").to_numpy()
        out[joints] = np.asarray(welded, dtype=np.float64)
    if len(items):
        risk = ctx.yard_predictions("outfitting").column("rework_probability").to_numpy()
        out[items] = index.item_norm_hours(items) * (1 + np.asarray(risk, dtype=np.float64))
    return out


def longest_paths(ctx: YardContext, hours: Hours) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.integer]]:
    """The yard graph's longest-path arrays for these hours (`YardStore.longest_paths`), kept on disk, memory-mapped.

    Computed once per yard (and model versions, for predicted hours).
    """
    from brain.core.cache import digest_of, model_identity

    key = f"longest-{hours}"
    if hours == "predicted":
        key += "-" + digest_of(*(model_identity(ctx.registry, m) for m in ("welding", "outfitting")))
    finish, best_pred = ctx.cache.array(f"{key}-finish"), ctx.cache.array(f"{key}-pred")
    if finish is None or best_pred is None:
        finish, best_pred = ctx.yard.longest_paths(node_hours(ctx, hours))
        ctx.cache.put_array(f"{key}-finish", finish)
        ctx.cache.put_array(f"{key}-pred", best_pred)
    return finish, best_pred
