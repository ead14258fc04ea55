"""What several tool families share: a yard code argument, counts in words, and the planner's usual messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field, JsonValue

from brain.tools.base import ArgsFrom, ToolArgs
from knowledge import words
from knowledge.idindex import MAX_ID_BYTES
from knowledge.yardformat.fields import FIELDS

if TYPE_CHECKING:
    from brain.plan import Entities
    from knowledge.store import YardStore

__all__ = ["CODE", "CodeArgs", "code_from", "count", "plural", "require_role"]

CODE: Final = Field(
    min_length=1,
    max_length=MAX_ID_BYTES,
    description="a code exactly as the yard writes its ids: a block, assembly, sub-assembly, part, joint, outfitting "
    "item or work package",
)


class CodeArgs(ToolArgs):
    """One yard code."""

    code: str = CODE


def plural(noun: str) -> str:
    """The noun's plural: "assembly" -> "assemblies"; a yard's own word ("rumpf") as written (`knowledge.words`)."""
    return words.plural(noun)


def count(n: int, noun: str) -> str:
    """`n` and the noun, plural when it should be: "1 block", "3 assemblies", "12,034 nodes", "2 of kind rumpf"."""
    return words.count(n, noun)


def code_from(intent_description: str) -> ArgsFrom:
    """The `args_from` of a tool that takes the question's first code: `{"code": ...}`, or what is missing."""

    def args_from(entities: Entities, question: str) -> dict[str, JsonValue] | str:
        if not entities.codes:
            return f"{intent_description} needs a code, such as <block> or <assembly>"
        return {"code": entities.codes[0]}

    return args_from


def require_role(yard: YardStore, role: str, purpose: str) -> None:
    """A `MissingFieldError` when the yard maps no kind onto `role`: what `purpose` needs, and how to map it."""
    if not yard.count(role):
        yard.require(role, [f.name for f in FIELDS[role][:1]], purpose)
