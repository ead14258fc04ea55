"""YAML read with its line numbers kept, so a mistake in a suite or a case file is reported at its line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from evals.errors import FileLineError

__all__ = ["compose", "construct", "line_of", "repeated_key"]


def compose(path: Path, error: type[FileLineError], what: str) -> yaml.Node | None:
    """The file's YAML node tree (None for an empty file).

    Raises:
        FileLineError: (of the type `error`) the file cannot be read, is not YAML, or gives a key twice.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(path, None, f"cannot read {what}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from None
    if root is not None:
        repeated = repeated_key(root)
        if repeated:
            raise error(path, repeated[1], f"the key {repeated[0]!r} is given twice")
    return root


def construct(root: yaml.Node) -> Any:
    """The plain Python value of a node tree (as `yaml.safe_load` would give)."""
    return yaml.SafeLoader("").construct_document(root)


def line_of(node: yaml.Node, loc: Sequence[int | str]) -> int:
    """The line of the deepest YAML node a pydantic error location reaches (1-based)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == key), None)
            if child is None:
                break
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
        else:
            break
    return int(node.start_mark.line) + 1


def repeated_key(node: yaml.Node) -> tuple[str, int] | None:
    """A key a mapping gives twice (YAML would silently keep the last), with its line."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                return str(key.value), int(key.start_mark.line) + 1
            seen.add(key.value)
            inner = repeated_key(value)
            if inner:
                return inner
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            inner = repeated_key(item)
            if inner:
                return inner
    return None
