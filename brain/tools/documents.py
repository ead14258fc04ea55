"""The document tool: the sections of the yard's documents that answer a question, the fact itself, and citations.

A hit's best passage (the sentence, list item or table row under its header that matched best) is the answer's
first line, with its citation (`DOC § Section`); when even the best section holds too little of the question's
informative wording (`DocumentHit.answers`), the answer says that no document answers it and shows the closest
sections as such, citing none.

The sections' text is written by people: the spec says `untrusted_text` and the row fields holding it are
marked untrusted, so the LLM planner's tool-calling model never sees it (it gets citations and scores); people
see it in the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field, JsonValue

from brain.tools.base import ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["SearchArgs", "Section", "search_documents"]

SECTIONS: Final = 4
"""Sections an answer shows: the best one's fact, then the others' (the answer is not always in the first)."""
PASSAGE_CHARS: Final = 400
TEXT_CHARS: Final = 600


class SearchArgs(ToolArgs):
    """What to look up in the yard's documents."""

    query: str = Field(min_length=2, max_length=500, description="the question, in words")


class Section(ToolRow):
    """One section of a document that answers the question."""

    citation: str
    """Document and section."""
    passage: str = Field(default="", json_schema_extra={"untrusted": True})
    """The sentence or table row (as `header: value` pairs) of the section that matches the question best."""
    text: str = Field(json_schema_extra={"untrusted": True})
    """What the section says (its first 600 characters, on one line)."""
    score: float
    """How much of the question's informative wording the section holds, 0 to 1 (IDF-weighted)."""


def _query(entities: Entities, question: str) -> dict[str, JsonValue]:
    return {"query": question}


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _quoted(result: ToolResult) -> list[str]:
    """Each section with its best passage; the first (whose fact the summary states) with its opening instead."""
    rows = result.rows_as(Section)
    if not result.sources:
        return [f"- closest, not an answer: {s.citation}: {s.passage or s.text[:300]}" for s in rows]
    return [f"- {s.citation}: {s.text[:300] if i == 0 else s.passage or s.text[:300]}" for i, s in enumerate(rows)]


@tool(
    name="search_documents",
    args=SearchArgs,
    row=Section,
    untrusted_text=True,
    description="Welding procedures, NDT rules, outfitting rules and lessons learned: the sentence or table row "
    "that answers a question, with citations of the sections.",
    intent="procedure",
    intent_description="welding procedures, inspection rules, outfitting rules and lessons learned, with citations",
    args_from=_query,
    lines=_quoted,
)
def search_documents(ctx: YardContext, args: SearchArgs) -> ToolResult:
    """The fact that answers a question (the best sentence or table row), and the sections behind it, cited."""
    store = ctx.documents
    if store.count() == 0:
        raise InputError("the document store is empty: run `shipbrain docs ingest` (or `shipbrain demo`)")
    hits = store.search(args.query, limit=SECTIONS)
    if not hits:
        return search_documents.result(args, "no document answers that")
    rows = [
        Section(
            citation=h.citation,
            passage=_clip(h.fact, PASSAGE_CHARS),
            text=_clip(h.text, TEXT_CHARS),
            score=round(h.coverage, 3),
        )
        for h in hits
    ]
    best = hits[0]
    numbers = {"coverage": best.coverage, "sections": float(len(hits))}
    if not best.answers:
        return search_documents.result(
            args,
            f"no document answers that: the closest section ({best.citation}) holds only {best.coverage:.0%} of "
            "the question's key words",
            rows=rows,
            numbers=numbers,
        )
    return search_documents.result(
        args,
        f"{best.citation}: {_clip(best.fact, PASSAGE_CHARS).rstrip('.')}",
        rows=rows,
        numbers=numbers,
        sources=[h.citation for h in hits],
    )
