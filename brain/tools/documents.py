"""The document tool: the sections of the yard's documents that answer a question, with citations.

The sections' text is written by people: the spec says `untrusted_text`, so the LLM planner's tool-calling model
never sees it (it gets citations and scores); people see it in the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, JsonValue

from brain.tools.base import ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.plan import Entities

__all__ = ["SearchArgs", "Section", "search_documents"]


class SearchArgs(ToolArgs):
    """What to look up in the yard's documents."""

    query: str = Field(min_length=2, max_length=500, description="the question, in words")


class Section(ToolRow):
    """One section of a document that answers the question."""

    citation: str
    """Document and section."""
    text: str = Field(json_schema_extra={"untrusted": True})
    """What the section says (its first 600 characters, on one line)."""
    score: float
    """How close it is to the question (cosine similarity)."""


def _query(entities: Entities, question: str) -> dict[str, JsonValue]:
    return {"query": question}


def _quoted(result: ToolResult) -> list[str]:
    return [f"- {s.citation}: {s.text[:300]}" for s in result.rows_as(Section)]


@tool(
    name="search_documents",
    args=SearchArgs,
    row=Section,
    untrusted_text=True,
    description="Welding procedures, NDT rules, outfitting rules and lessons learned: the sections that answer a "
    "question, with citations.",
    intent="procedure",
    intent_description="welding procedures, inspection rules, outfitting rules and lessons learned, with citations",
    args_from=_query,
    lines=_quoted,
)
def search_documents(ctx: YardContext, args: SearchArgs) -> ToolResult:
    """The document sections that answer a question, with citations."""
    store = ctx.documents
    if store.count() == 0:
        raise InputError("the document store is empty: run `shipbrain docs ingest` (or `shipbrain demo`)")
    hits = store.search(args.query, limit=3)
    if not hits:
        return search_documents.result(args, "no document answers that")
    return search_documents.result(
        args,
        f"{len(hits)} sections; best: {hits[0].citation}",
        rows=[Section(citation=h.citation, text=" ".join(h.text.split())[:600], score=round(h.score, 3)) for h in hits],
        sources=[h.citation for h in hits],
    )
