"""The critical path into a block or assembly (or of the whole ship): the longest chain of work that ends there.

Two views, both in one answer:

- the **part graph's** chain: every node taking its hours after all its predecessors, the longest chain ending at
  the code (`YardStore.critical_path`, as `shipbrain yard query critical` computes it); hours are the yard's
  planning norms by default (the same numbers as the command line), or the models' predictions;
- the **schedule's** chain: in the adopted schedule, the work packages that set the day the code's work package
  starts (for a block, its erection), each held up by the one before it through a precedence or a resource
  (`adapters.scheduling.chain_into`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, JsonValue

from brain.core.longest import longest_paths
from brain.core.workpackages import node_of_code
from brain.tools._common import count
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from brain.tools.schedule import PathStep, path_steps
from knowledge.errors import InputError, MissingFieldError
from knowledge.idindex import MAX_ID_BYTES
from knowledge.yardformat.fields import ROLES

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities
    from knowledge.store import YardStore

__all__ = ["ChainNode", "CriticalArgs", "critical_path"]


class CriticalArgs(ToolArgs):
    """Where the chain ends, and which hours weigh it."""

    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ID_BYTES,
        description="the block or assembly (any code); none: the ship",
    )
    hours: Literal["planned", "predicted"] = Field(
        default="planned",
        description="the part graph's hours: the planning norms (as `shipbrain yard query critical`) or the models' "
        "predictions (welding hours; items' norms raised by their rework risk)",
    )


class ChainNode(ToolRow):
    """A node of the part graph's longest chain of work."""

    step: int
    """Its place in the chain, from 1."""
    code: str
    """The node."""
    kind: str
    """Its role (block, assembly, sub assembly, part, joint, outfitting item), or the yard's kind if it has none."""
    hours: float = Field(json_schema_extra={"unit": "h"})
    """Its own hours of work."""
    finish_hours: float = Field(title="finish", json_schema_extra={"unit": "h"})
    """When it is done, counted from the chain's start, if every node starts as soon as its predecessors finish."""


def _roles(yard: YardStore, nodes: npt.NDArray[np.int32]) -> list[str]:
    """Each node's role, or its kind where the kind plays none."""
    codes = yard.role_codes(nodes).tolist()
    kinds = yard.kinds_of(nodes)
    return [ROLES[c] if c >= 0 else kind for c, kind in zip(codes, kinds, strict=True)]


def _require_norms(yard: YardStore) -> None:
    """A `MissingFieldError` when no joint or outfitting item of the yard has planning-norm hours to weigh."""
    roles = [r for r in ("joint", "outfitting_item") if yard.count(r)]
    if roles and not any("norm_hours" in yard.fields(r) for r in roles):
        yard.require(
            roles[0],
            ["norm_hours"],
            "the critical path under planning norms (or ask for it under the models' predicted hours)",
        )


_PREDICTED: Final = re.compile(r"\bpredict|\bmodel", re.IGNORECASE)
"""A question that weighs the chain by the models' hours ("under predicted hours", "by the models")."""


def _args(entities: Entities, question: str) -> dict[str, JsonValue]:
    hours = "predicted" if _PREDICTED.search(question) else "planned"
    return {"code": entities.codes[0] if entities.codes else None, "hours": hours}


_CRITICAL = "the critical path (longest chain of work) into a block or assembly, or of the whole ship"


@tool(
    name="critical_path",
    args=CriticalArgs,
    row=ChainNode,
    description="The critical path into a block or assembly (or of the ship without a code): the longest chain of "
    "work in the part graph ending there (planning-norm hours by default, as `shipbrain yard query critical`), and "
    "in the adopted schedule the chain of work packages that sets when its work package (a block's erection) starts.",
    intent="critical_path",
    intent_description=_CRITICAL,
    examples=(
        "critical path for <block>",
        "what is the critical path into block <block>",
        "critical path of assembly <assembly>",
        "longest chain of work into <block>",
        "which chain of work holds up the erection of <block>",
        "what drives when <assembly> can be finished",
    ),
    args_from=_args,
    breakdown_row=PathStep,
    plots=(
        Plot(
            kind="line", title="Critical chain in the part graph: finish of each step (h)", x="step", y="finish_hours"
        ),
        Plot(
            kind="gantt",
            title="Chain of work packages in the adopted schedule (days)",
            y="work_package",
            x="start_day",
            end="finish_day",
            table="breakdown",
        ),
    ),
)
def critical_path(ctx: YardContext, args: CriticalArgs) -> ToolResult:
    """The longest chain of work into a code (or of the ship), in the part graph and in the adopted schedule."""
    from adapters.scheduling import chain_into

    yard = ctx.yard
    end = node_of_code(yard, args.code) if args.code is not None else None
    where = yard.code_of(end) if end is not None else "the ship"
    into = f"into {where}" if end is not None else "of the ship"
    if args.hours == "planned":
        _require_norms(yard)
    finish, best_pred = longest_paths(ctx, args.hours)
    cp = yard.chain_of(finish, best_pred, end=end)
    ids = cp.node_ids
    # along the chain each node waits on the one before it: its own hours are the difference of their finishes
    chain_finish = np.asarray(finish[ids], dtype=np.float64)
    own = np.diff(chain_finish, prepend=0.0)
    hours = dict(zip(ids.tolist(), own.tolist(), strict=True))
    kinds = _roles(yard, ids)
    codes = yard.codes_of(ids)
    rows = [
        ChainNode(
            step=k + 1,
            code=c,
            kind=kind.replace("_", " "),
            hours=round(float(hours[i]), 3),
            finish_hours=round(float(cp.finish[i]), 3),
        )
        for k, (i, c, kind) in enumerate(zip(ids.tolist(), codes, kinds, strict=True))
    ]
    weighed = (
        "planning-norm hours, as `shipbrain yard query critical`" if args.hours == "planned" else "predicted hours"
    )
    longest = max(rows, key=lambda r: r.hours)
    via = [r.code for r in rows[:-1] if r.kind in ("block", "assembly")]
    summary = (
        f"the longest chain of work {into} in the part graph ({weighed}): {count(len(rows), 'node')}, "
        f"{cp.length:,.1f} h"
        + (f", via {', '.join(via)}" if via else "")
        + f" (its longest step: {longest.code}, {longest.hours:,.1f} h)"
    )
    numbers = {"chain_nodes": float(len(rows)), "chain_hours": float(cp.length)}
    unknown = ""  # why no work package makes the code, when the yard cannot say
    try:
        package = ctx.index.package_of(args.code) if args.code is not None else None
    except MissingFieldError as exc:  # the yard does not say which work package makes it: say why
        package, unknown = None, f" ({exc})"
    except InputError:
        package = None
    try:
        events, schedule = ctx.plan.current()
    except MissingFieldError as exc:  # no schedule of this yard: the part graph's chain is the answer
        summary += f"; no schedule of this yard: {exc}"
        return critical_path.result(
            args,
            summary,
            rows=rows,
            numbers=numbers,
            sources=[f"part graph of {yard.name}: longest path weighted by {weighed}"],
        )
    request = ctx.plan.request(events)
    links = chain_into(request, schedule, package) if package is not None or args.code is None else ()
    if links:
        last = next(t for t in schedule.tasks if t.code == links[-1].code)
        first = next((t for t in schedule.tasks if t.code == links[0].code), None)
        what = f"{package} starts on day {last.start_day}" if package else f"the ship finishes on day {last.finish_day}"
        start = f" (day {first.start_day})" if first is not None else ""
        summary += (
            f"; in the adopted schedule {what} after a chain of {count(len(links), 'step')} from {links[0].code}"
            f"{start}: " + " -> ".join(link.code for link in links)
        )
        numbers |= {"schedule_chain_steps": float(len(links)), "start_day": float(last.start_day)}
    elif args.code is not None:
        summary += f"; no work package of the adopted schedule makes {where}{unknown}"
    return critical_path.result(
        args,
        summary,
        rows=rows,
        breakdown=path_steps(schedule, links),
        numbers=numbers,
        sources=[
            f"part graph of {yard.name}: longest path weighted by {weighed}",
            "scheduling model: the adopted schedule's chain into "
            + (f"{package}" if package else "its last work package (the critical path)"),
            *(f"adopted: {e.describe()}" for e in events),
        ],
    )
