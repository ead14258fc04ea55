"""Graph tools: what a code is and holds, and what must come before it or waits on it (no model runs).

They answer in a planner's words, by role: "Must be done before B012: 7 blocks, 42 assemblies, 130 sub-assemblies,
13,218 parts, 13,220 joints and 1,041 outfitting items (27,658 in all)". A role counts every kind of the yard that
plays it (a yard's PANEL and CPANEL are its assemblies); the rows name those kinds, and a kind with no role is
counted under its own name.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from brain.lexicon import ROLE_NOUNS, node_of
from brain.tools._common import CodeArgs, code_from, count
from brain.tools.base import Plot, ToolResult, ToolRow, ToolSpec, tool
from knowledge.words import with_article
from knowledge.yardformat.fields import ROLES

if TYPE_CHECKING:
    from brain.core import YardContext
    from knowledge.store import YardStore

__all__ = ["KindCount", "downstream", "lookup", "upstream"]

SCALES: Final = 20.0
"""Counts more than this many times apart are drawn in charts of their own (7 blocks next to 13,218 parts)."""
_BLOCKS_NAMED: Final = 25
"""Blocks a closure's sources name at most."""


class KindCount(ToolRow):
    """How many items of one role (or of one of the yard's kinds that plays no role)."""

    kind: str
    """The kind of item: block, assembly, sub-assembly, part, joint, outfitting item, ..."""
    count: int
    """How many."""
    yard_kinds: str | None = Field(default=None, title="the yard's kinds")
    """The yard's own kinds behind the count, when they are not the role's name ("BLK"; "PANEL 38, CPANEL 2")."""


class _Group:
    """One line of a count: a role (or a kind without one), its total and the yard's kinds behind it."""

    def __init__(self, key: str, word: str, by_kind: dict[str, int]) -> None:
        self.key = key
        """The role, or the kind for a kind that plays none (the key of the result's numbers)."""
        self.word = word
        self.by_kind = by_kind
        self.count = sum(by_kind.values())

    @property
    def yard_kinds(self) -> str | None:
        """The yard's kinds behind it ("BLK"; "PLATE 415, PROFILE 605"), None when that is the role's own name."""
        if list(self.by_kind) == [self.key]:
            return None
        if len(self.by_kind) == 1:
            return next(iter(self.by_kind))
        return ", ".join(f"{kind} {n:,}" for kind, n in self.by_kind.items())


def _by_role(yard: YardStore, by_kind: dict[str, int]) -> list[_Group]:
    """Counts by kind grouped by role, in `ROLES` order, then the kinds that play no role; none left out."""
    out: list[_Group] = []
    roles = yard.roles
    for role in ROLES:
        mine = {k: by_kind[k] for k in roles.get(role, []) if by_kind.get(k)}
        if mine:
            out.append(_Group(role, ROLE_NOUNS[role], mine))
    played = {k for kinds in roles.values() for k in kinds}
    out += [_Group(k, k, {k: by_kind[k]}) for k in yard.kinds if k not in played and by_kind.get(k)]
    return out


def _kind_counts(yard: YardStore, nodes: npt.ArrayLike) -> dict[str, int]:
    """How many of `nodes` there are of each of the yard's kinds (kinds with none left out)."""
    array = np.asarray(nodes, dtype=np.int64)
    if not len(array):
        return {}
    codes = yard.role_codes(array)
    out: Counter[str] = Counter()
    values, counts = np.unique(codes, return_counts=True)
    for code, n in zip(values.tolist(), counts.tolist(), strict=True):
        kinds = yard.roles.get(ROLES[code], []) if code >= 0 else []
        if len(kinds) == 1:  # the role's one kind: no need to read each node's
            out[kinds[0]] += n
        else:
            out.update(yard.kinds_of(array[codes == code]))
    return dict(out)


def _said(group: _Group) -> str:
    """A group in words: a role's word pluralised ("13 joints"), a yard's own kind as written ("2 of kind rumpf")."""
    return count(group.count, group.word)


def _words(groups: list[_Group]) -> str:
    """The counts in words: '7 blocks, 42 assemblies and 13,218 parts' (empty: none)."""
    said = [_said(g) for g in groups]
    return ", ".join(said[:-1]) + f" and {said[-1]}" if len(said) > 1 else "".join(said)


def _in_all(groups: list[_Group]) -> str:
    """The counts in words and their total: '7 blocks and 42 assemblies (49 in all)'; one group needs no total."""
    return _words(groups) + (f" ({sum(g.count for g in groups):,} in all)" if len(groups) > 1 else "")


def _rows(groups: list[_Group]) -> list[KindCount]:
    return [
        KindCount(kind=g.word, count=g.count, **({"yard_kinds": g.yard_kinds} if g.yard_kinds else {})) for g in groups
    ]


def _numbers(groups: list[_Group]) -> dict[str, float]:
    return {g.key: float(g.count) for g in groups}


def _by_kind(title: str) -> tuple[Plot, ...]:
    return (Plot(kind="bar", title=title, x="kind", y="count", split_scales=SCALES),)


def _what(yard: YardStore, node: int) -> str:
    """What a node is, with its article: "a block", "an assembly (CPANEL)", "a SYS"."""
    role, kind = yard.role_of(node), yard.kind_of(node)
    word = ROLE_NOUNS[role] if role is not None else kind
    return with_article(word) + (f" ({kind})" if role is not None and kind != role else "")


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
    """What a code is, what it holds and what comes directly before and after it, by role."""
    yard = ctx.yard
    node = node_of(yard, args.code)
    code = yard.code_of(node)
    inside = yard.members(node)
    if yard.role_of(node) == "block":  # and the items fitted on board in it, whose `block` field names it
        items = yard.nodes_of_role("outfitting_item")
        inside = np.union1d(inside, items[yard.blocks_of_role("outfitting_item") == node]).astype(np.int32)
    leaf = yard.role_of(node) in ("part", "joint", "outfitting_item")  # grouped, never grouping: no pass needed
    grouped = not len(inside) and bool(yard.hierarchies) and not leaf
    if grouped:  # a system (or any node of a grouping hierarchy): what it groups
        inside = yard.group_members(node)
    held = _by_role(yard, _kind_counts(yard, inside))
    before = _by_role(yard, _kind_counts(yard, yard.predecessors(node)))
    after = _by_role(yard, _kind_counts(yard, yard.successors(node)))
    of = (
        f" grouping {_in_all(held)} ([hierarchies] {', '.join(yard.hierarchies)})"
        if grouped
        else f" of {_in_all(held)}"
    )
    summary = f"{code} is {_what(yard, node)}" + (of if held else "")
    summary += f"; directly before it: {_words(before) or 'nothing'}; directly after it: {_words(after) or 'nothing'}"
    return lookup.result(
        args,
        summary,
        rows=_rows(held),
        numbers=_numbers(held),
        sources=[f"yard graph {yard.path.name}"],
    )


def _closure(
    spec: ToolSpec, ctx: YardContext, args: CodeArgs, direction: Literal["upstream", "downstream"]
) -> ToolResult:
    yard = ctx.yard
    node = node_of(yard, args.code)
    code = yard.code_of(node)
    # counted by kind from the closure's node ranges, without listing its nodes (27M of them upstream at 25M parts)
    closure = yard.upstream_ranges([node]) if direction == "upstream" else yard.downstream_ranges([node])
    groups = _by_role(yard, closure.counts)
    blocks = yard.nodes_of_role("block")
    inside = blocks[closure.contains(blocks)] if len(blocks) else blocks
    named = yard.codes_of(inside[:_BLOCKS_NAMED])
    if direction == "upstream":
        summary = f"Must be done before {code}: {_in_all(groups)}" if groups else f"Nothing must be done before {code}"
    else:
        summary = f"Waiting on {code}: {_in_all(groups)}" if groups else f"Nothing waits on {code}"
    return spec.result(
        args,
        summary,
        rows=_rows(groups),
        numbers={"nodes": float(len(closure)), **_numbers(groups)},
        sources=[f"yard graph {yard.path.name}"] + ([f"blocks: {', '.join(named)}"] if named else []),
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
