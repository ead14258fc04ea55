"""A section's passages: each sentence, list item and table row, readable alone.

A Markdown table is cut into its rows, and each row keeps the table's header (its passage is the header, the
separator and the row: a three-line table), so "EH36 | 25-32 | 100 °C" is found and read as
"Grade: EH36; t (mm): 25-32; Minimum preheat: 100 °C". Prose is cut into sentences; a list into its items.
The store indexes each passage beside its whole section and answers with the passage that matched best.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Passage", "one_line", "passages"]

_ABBREVIATIONS: Final = frozenset({"e.g", "i.e", "approx", "ca", "no", "nos", "fig", "min", "max", "cf", "vs", "etc"})
_SEPARATOR: Final = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ITEM: Final = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Passage:
    """One piece of a section that can be read alone."""

    unit: Literal["sentence", "item", "row"]
    text: str
    """What a person reads: a sentence, a list item, or a table row under its header (three Markdown lines)."""


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    return [c.strip() for c in inner.split("|")]


def sentences(text: str) -> list[str]:
    """The sentences of a paragraph: cut after `.`, `!` or `?` before a capital, a digit or a quote.

    Decimals (`1.2 mm`) and common abbreviations (`e.g.`, `approx.`) do not end a sentence.
    """
    flat = " ".join(text.split())
    out: list[str] = []
    start = 0
    for match in re.finditer(r"[.!?](?=\s+[A-Z0-9\"'(\[])", flat):
        word = flat[start : match.start()].rsplit(" ", 1)[-1]
        if word.lower().rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"[A-Z]", word):  # e.g., an initial
            continue
        out.append(flat[start : match.end()].strip())
        start = match.end()
    rest = flat[start:].strip()
    if rest:
        out.append(rest)
    return [s for s in out if s]


def passages(text: str) -> list[Passage]:
    """The passages of a section's text, in order."""
    out: list[Passage] = []
    lines = text.splitlines()
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend(Passage("sentence", s) for s in sentences(" ".join(paragraph)))
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("|"):
            flush()
            table = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                table.append(lines[i].strip())
                i += 1
            out.extend(_table_rows(table))
            continue
        if _ITEM.match(line):
            flush()
            item = [_ITEM.sub("", line, count=1)]
            i += 1
            while i < len(lines) and lines[i].startswith((" ", "\t")) and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out.append(Passage("item", " ".join(" ".join(item).split())))
            continue
        if line.strip():
            paragraph.append(line.strip())
        else:
            flush()
        i += 1
    flush()
    return out


def _table_rows(table: list[str]) -> list[Passage]:
    if len(table) >= 3 and _SEPARATOR.match(table[1]):
        header, separator, rows = table[0], table[1], table[2:]
        return [Passage("row", f"{header}\n{separator}\n{row}") for row in rows if any(_cells(row))]
    return [Passage("row", row) for row in table if not _SEPARATOR.match(row) and any(_cells(row))]


def one_line(passage: str) -> str:
    """A passage on one line: a table row as `header: value` pairs, anything else with its spaces collapsed."""
    lines = passage.splitlines()
    if len(lines) == 3 and lines[0].lstrip().startswith("|") and _SEPARATOR.match(lines[1]):
        header, row = _cells(lines[0]), _cells(lines[2])
        if len(header) == len(row):
            return "; ".join(f"{h}: {v}" if h else v for h, v in zip(header, row, strict=True))
        return " | ".join(row)
    if lines and lines[0].lstrip().startswith("|"):
        return " | ".join(c for line in lines for c in _cells(line))
    return " ".join(passage.split())
