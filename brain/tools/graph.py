"""Graph tools: what a code is and holds, and what must come before it or waits on it (no model runs).

They answer in a planner's words, by kind: "Must be done before B012: 7 blocks, 42 assemblies, 130 sub-assemblies,
13,218 parts, 13,220 joints and 1,041 outfitting items (27,658 in all)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from brain.tools._common import CodeArgs, code_from, count
from brain.tools.base import Plot, ToolResult, ToolRow, ToolSpec, tool
from knowledge.layout import NODE_KINDS

if TYPE_CHECKING:
    from brain.core import YardContext
    from knowledge.partgraph import PartGraph

__all__ = ["KindCount", "downstream", "lookup", "upstream"]

KIND_WORDS: Final[dict[str, str]] = {
    "block": "block",
    "assembly": "assembly",
    "sub_assembly": "sub-assembly",
    "part": "part",
    "joint": "joint",
    "outfitting_item": "outfitting item",
}
"""Each kind of item as a planner says it (in `NODE_KINDS` order: from the block down to its parts)."""
SCALES: Final = 20.0
"""Counts more than this many times apart are drawn in charts of their own (7 blocks next to 13,218 parts)."""


class KindCount(ToolRow):
    """How many items of one kind."""

    kind: str
    """The kind of item: block, assembly, sub-assembly, part, joint, outfitting item."""
    count: int
    """How many."""


def _by_kind(title: str) -> tuple[Plot, ...]:
    return (Plot(kind="bar", title=title, x="kind", y="count", split_scales=SCALES),)


def _counts(g: PartGraph, ids: npt.ArrayLike) -> dict[str, int]:
    """How many of `ids` there are of each kind, in `NODE_KINDS` order, kinds with none left out."""
    arr = np.asarray(ids)
    if len(arr) > 1 and bool(np.all(arr[1:] >= arr[:-1])):  # ascending (every graph query's answer): kinds are
        # id ranges, so each kind's count is where its range starts in the ids (27M ids: 0.3-0.7 s -> 0.03 s)
        counts = np.diff(np.searchsorted(arr, g.layout.kind_start))
    else:
        counts = np.bincount(g.layout.kind_codes(arr), minlength=len(NODE_KINDS))
    return {kind: int(n) for kind, n in zip(NODE_KINDS, counts.tolist(), strict=True) if n}


def _words(counts: dict[str, int]) -> str:
    """The counts in words: '7 blocks, 42 assemblies and 13,218 parts' (empty: none)."""
    said = [count(n, KIND_WORDS[kind]) for kind, n in counts.items()]
    return ", ".join(said[:-1]) + f" and {said[-1]}" if len(said) > 1 else "".join(said)


def _in_all(counts: dict[str, int]) -> str:
    """The counts in words and their total: '7 blocks and 42 assemblies (49 in all)'; one kind needs no total."""
    return _words(counts) + (f" ({sum(counts.values()):,} in all)" if len(counts) > 1 else "")


def _rows(counts: dict[str, int]) -> list[KindCount]:
    return [KindCount(kind=KIND_WORDS[kind], count=n) for kind, n in counts.items()]


_LOOKUP = "what a block, assembly, part, joint or outfitting item is and what it holds"


@tool(
    name="lookup",
    args=CodeArgs,
    row=KindCount,
    description="What a block, assembly, sub-assembly, part, joint or outfitting item is and holds.",
    intent_description=_LOOKUP,
    args_from=code_from(_LOOKUP),
    plots=_by_kind("What {code} holds, by kind"),
)
def lookup(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """What a code is, what it holds and what comes directly before and after it, by kind."""
    code, g = args.code, ctx.graph
    node = g.id_of(code)
    kind = g.kind_of(node)
    held = _counts(g, g.members(node)) if kind in ("block", "assembly", "sub_assembly") else {}
    before, after = _counts(g, g.predecessors(node)), _counts(g, g.successors(node))
    word = KIND_WORDS[kind]
    article = "an" if word[0] in "aeiou" else "a"
    summary = f"{code} is {article} {word}" + (f" of {_in_all(held)}" if held else "")
    summary += f"; directly before it: {_words(before) or 'nothing'}; directly after it: {_words(after) or 'nothing'}"
    return lookup.result(
        args,
        summary,
        rows=_rows(held),
        numbers={k: float(n) for k, n in held.items()},
        sources=[f"part graph {g.path.name}"],
    )


def _closure(
    spec: ToolSpec, ctx: YardContext, args: CodeArgs, direction: Literal["upstream", "downstream"]
) -> ToolResult:
    code, g = args.code, ctx.graph
    node = g.id_of(code)
    ids = g.upstream([node]) if direction == "upstream" else g.downstream([node])
    by_kind = _counts(g, ids)
    n_blocks = by_kind.get("block", 0)  # ids ascend and block ids come first
    blocks = g.codes_of(ids[: min(n_blocks, 25)])
    if direction == "upstream":
        summary = (
            f"Must be done before {code}: {_in_all(by_kind)}" if by_kind else f"Nothing must be done before {code}"
        )
    else:
        summary = f"Waiting on {code}: {_in_all(by_kind)}" if by_kind else f"Nothing waits on {code}"
    return spec.result(
        args,
        summary,
        rows=_rows(by_kind),
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
    plots=_by_kind("Must be done before {code}, by kind"),
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
    plots=_by_kind("Waiting on {code}, by kind"),
)
def downstream(ctx: YardContext, args: CodeArgs) -> ToolResult:
    """Everything that waits on a code."""
    return _closure(downstream, ctx, args, "downstream")
