"""Codes in a workflow request checked against the yard, with errors that name the request field."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from knowledge.errors import InputError
from knowledge.layout import NodeKind
from knowledge.partgraph import PartGraph
from workflows.errors import WorkflowInputError

__all__ = ["categories", "resolve"]


def resolve(graph: PartGraph, code: str, field: str, kinds: Iterable[NodeKind] | None = None) -> int:
    """The node id of `code`, or a `WorkflowInputError` naming `field` when it is unknown or of the wrong kind."""
    try:
        node = graph.id_of(code.strip().upper())
    except InputError as exc:
        raise WorkflowInputError(str(exc), field=field) from None
    wanted = tuple(kinds or ())
    if wanted and graph.kind_of(node) not in wanted:
        words = [k.replace("_", "-") for k in wanted]
        names = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        kind = graph.kind_of(node).replace("_", " ")
        article = "an" if kind[0] in "aeiou" else "a"
        raise WorkflowInputError(f"{code!r} is {article} {kind}; give a {names} code", field=field)
    return node


def categories(column: pa.ChunkedArray) -> list[str]:
    """A categorical column's values in the yard's own order (its dictionary), else sorted."""
    if pa.types.is_dictionary(column.type):
        return [str(v) for v in column.combine_chunks().dictionary.to_pylist()]
    return sorted(str(v) for v in column.unique().to_pylist())
