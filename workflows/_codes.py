"""Codes in a workflow request checked against the yard, with errors that name the request field.

A code is the yard's own id (`knowledge.store.YardStore`): found exactly, else by its loose key (case, separators
and leading zeros ignored) when that names one node only, as the brain finds codes in a question. Every code field
of every workflow is read so (blocks, equipment, reported codes, work packages, and zones, which `outfitting-plan`
reads against the yard's zones the same way); nothing is upper-cased on the way, since a yard's ids may be lower case.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from brain.core import WorkPackageIndex
from brain.core.codes import node_of, yard_codes
from knowledge.errors import InputError
from knowledge.store import YardStore
from knowledge.yardformat.fields import ROLES, Role
from workflows.errors import WorkflowInputError

__all__ = ["MAX_CODE", "categories", "find", "kind_index", "looks_like_work_package", "resolve", "what_is"]

MAX_CODE = 128
"""The longest id a yard may have, in characters (`knowledge.idindex.MAX_ID_BYTES` bytes)."""


def find(yard: YardStore, code: str) -> int:
    """The node of a code as a person types it (`brain.core.codes.node_of`); an `InputError` saying what there is."""
    return node_of(yard, code)


def looks_like_work_package(index: WorkPackageIndex, code: str) -> bool:
    """Whether `code` is one of the yard's work packages, or starts as all of theirs do (a mistyped one)."""
    if index.is_work_package(code) or yard_codes(index.yard).reads_like(code) == "work_package":
        return True
    prefix = os.path.commonprefix(index.codes) if index.codes else ""
    return bool(prefix) and code.strip().upper().startswith(prefix.upper())


def what_is(yard: YardStore, node: int) -> str:
    """A node's role in words with its article, and the yard's kind when it is another word: "an assembly (PANEL)"."""
    kind = yard.kind_of(node)
    role = yard.role_of(node)
    words = (role or kind).replace("_", " ")
    if role is not None and kind != role:
        words += f" ({kind})"
    return f"{'an' if words[0].lower() in 'aeiou' else 'a'} {words}"


def resolve(yard: YardStore, code: str, field: str, roles: Iterable[Role] | None = None) -> int:
    """The node of `code`, or a `WorkflowInputError` naming `field` when it is unknown or of another role."""
    try:
        node = find(yard, code)
    except InputError as exc:
        raise WorkflowInputError(str(exc), field=field) from None
    wanted = tuple(roles or ())
    if wanted and yard.role_of(node) not in wanted:
        words = [r.replace("_", "-") for r in wanted]
        names = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        raise WorkflowInputError(f"{code!r} is {what_is(yard, node)}; give a {names} code", field=field)
    return node


def kind_index(yard: YardStore, nodes: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """Each node's kind as its index in `yard.kinds`, vectorised: one role's nodes at a time."""
    array = np.asarray(nodes, dtype=np.int64)
    out = np.full(len(array), -1, dtype=np.int16)
    kinds = yard.kinds
    played = yard.roles
    roles = yard.role_codes(array)
    for code in np.unique(roles).tolist():
        mask = roles == code
        if code >= 0:
            candidates = played.get(ROLES[code], [])
        else:
            mapped = {k for ks in played.values() for k in ks}
            candidates = [k for k in kinds if k not in mapped]
        if len(candidates) == 1:
            out[mask] = kinds.index(candidates[0])
            continue
        chosen = array[mask]
        found = np.full(len(chosen), -1, dtype=np.int16)
        for kind in candidates:
            members = yard.nodes_of_kind(kind)
            at = np.minimum(np.searchsorted(members, chosen), max(len(members) - 1, 0))
            hit = (members[at] == chosen) if len(members) else np.zeros(len(chosen), dtype=bool)
            found[hit] = kinds.index(kind)
        out[mask] = found
    return out


def categories(column: pa.ChunkedArray) -> list[str]:
    """A categorical column's values in the yard's own order (its dictionary), else sorted."""
    if pa.types.is_dictionary(column.type):
        return [str(v) for v in column.combine_chunks().dictionary.to_pylist()]
    return sorted(str(v) for v in column.unique().to_pylist() if v is not None)
