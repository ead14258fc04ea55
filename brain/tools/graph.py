"""Graph tools: what a code is and holds, and what must come before it or waits on it (no model runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from brain.tools._common import CodeArgs, code_from, count
from brain.tools.base import Plot, ToolResult, ToolRow, ToolSpec, tool
from knowledge.layout import NODE_KINDS

if TYPE_CHECKING:
    from brain.core import YardContext

__all__ = ["KindCount", "downstream", "lookup", "upstream"]


class KindCount(ToolRow):
    """How many nodes of one kind."""

    kind: str
    """The kind of node: block, assembly, sub assembly, part, joint, outfitting item."""
    count: int
    """How many."""


def _by_kind(tool_name: str) -> tuple[Plot, ...]:
    return (Plot(kind="bar", title=f"{tool_name} by kind", x="kind", y="count"),)


_LOOKUP = "what a block, assembly, part, joint or outfitting item is and what it holds"


@tool(
    name="lookup",
    args=CodeArgs,
    row=KindCount,
    description="What a block, assembly, sub-assembly, part, joint or outfitting item is and holds.",
    intent_description=_LOOKUP,
    args_from=code_from(_LOOKUP),
    plots=_by_kind("lookup"),
)
def lookup(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """What a code is and what it holds."""
    code, g = args.code, ctx.graph
    node = g.id_of(code)
    kind = g.kind_of(node)
    numbers: dict[str, float] = {}
    if kind in ("block", "assembly", "sub_assembly"):
        counts = np.bincount(g.layout.kind_codes(g.members(node)), minlength=len(NODE_KINDS))
        numbers = {k: float(n) for k, n in zip(NODE_KINDS, counts.tolist(), strict=True) if n}
    before, after = len(g.predecessors(node)), len(g.successors(node))
    parts = ", ".join(count(int(v), k) for k, v in sorted(numbers.items()))
    article = "an" if kind[0] in "aeiou" else "a"
    summary = f"{code} is {article} {kind.replace('_', ' ')}" + (f" holding {parts}" if parts else "")
    summary += f"; {count(before, 'direct predecessor')}, {count(after, 'direct successor')}"
    return lookup.result(
        args,
        summary,
        rows=[KindCount(kind=k.replace("_", " "), count=int(n)) for k, n in sorted(numbers.items())],
        numbers=numbers,
        sources=[f"part graph {g.path.name}"],
    )


def _closure(
    spec: ToolSpec, ctx: YardContext, args: CodeArgs, direction: Literal["upstream", "downstream"]
) -> ToolResult:
    code, g = args.code, ctx.graph
    node = g.id_of(code)
    ids = g.upstream([node]) if direction == "upstream" else g.downstream([node])
    counts = np.bincount(g.layout.kind_codes(ids), minlength=len(NODE_KINDS))
    by_kind = {kind: int(n) for kind, n in zip(NODE_KINDS, counts.tolist(), strict=True) if n}
    n_blocks = int(np.searchsorted(ids, g.layout.kind_start[1]))  # ids ascend and block ids come first
    blocks = g.codes_of(ids[: min(n_blocks, 25)])
    verb = "must be done before" if direction == "upstream" else "wait on"
    summary = f"{count(len(ids), 'node')} {verb} {code}" + (
        f", among them {count(n_blocks, 'block')}" if n_blocks else ""
    )
    return spec.result(
        args,
        summary,
        rows=[KindCount(kind=k.replace("_", " "), count=n) for k, n in sorted(by_kind.items())],
        numbers={"nodes": float(len(ids)), **{k: float(n) for k, n in by_kind.items()}},
        sources=[f"part graph {g.path.name}"] + ([f"blocks: {', '.join(blocks)}"] if blocks else []),
    )


_UPSTREAM = "everything that must be done before a code"
_DOWNSTREAM = "everything that waits on a code (what slips if it is late)"


@tool(
    name="upstream",
    args=CodeArgs,
    row=KindCount,
    description="Everything that must be done before a code (its prerequisites), counted by kind.",
    intent_description=_UPSTREAM,
    args_from=code_from(_UPSTREAM),
    plots=_by_kind("upstream"),
)
def upstream(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """Everything that must be done before a code."""
    return _closure(upstream, ctx, args, "upstream")


@tool(
    name="downstream",
    args=CodeArgs,
    row=KindCount,
    description="Everything that waits on a code (what slips if it is late), counted by kind.",
    intent_description=_DOWNSTREAM,
    args_from=code_from(_DOWNSTREAM),
    plots=_by_kind("downstream"),
)
def downstream(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """Everything that waits on a code."""
    return _closure(downstream, ctx, args, "downstream")
