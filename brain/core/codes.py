"""A yard's ids as a person types them: exact, loose (case, separators, leading zeros), or reading like one.

A yard's ids often share a leading part that people leave out when they type them: the hull number of a design
system's ids (`H1042/DB03` typed "DB03", `H1042/DB03-P04 PL0202` typed "db03-p04 pl202"), or a package prefix
(`WP-DB03-FAB` typed "DB03-FAB"). Those leading parts are read from the yard's own ids (the first piece of an id,
up to a separator, that nearly every id of a role starts with), never from a naming scheme.

One place for every tool, workflow and the planner's lexicon to turn a typed code into a node
(`node_of(yard, code)`), so "j20-88", "J020-000088" and "B999" (a block the yard does not have) are read the same
way everywhere. Nothing here knows a naming scheme: what an id "reads like" is the shape of the yard's own ids of a
role (letters and separators, numbers aside), sampled from the store.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Final

from knowledge.errors import UnknownCodeError

if TYPE_CHECKING:
    from knowledge.store import YardStore

__all__ = ["ROLE_NOUNS", "YardCodes", "loose_key", "node_of", "yard_codes"]

_SEPARATORS: Final = re.compile(r"[\s\-_/.:#]+")
_LEADING_ZEROS: Final = re.compile(r"(?<!\d)0+(?=\d)")


def loose_key(text: str) -> str:
    """An id as a person might type it: case, separators and leading zeros do not count ("J020-000088" == "j20 88").

    Two numbers stay two numbers ("J20-88" is not "J2-088"): a separator between digits is kept as one "-".
    """
    unpadded = _LEADING_ZEROS.sub("", text.casefold())
    return _SEPARATORS.sub(lambda m: "-" if _between_digits(unpadded, m.start(), m.end()) else "", unpadded)


def _between_digits(text: str, start: int, end: int) -> bool:
    return 0 < start and end < len(text) and text[start - 1].isdigit() and text[end].isdigit()


ROLE_NOUNS: Final[dict[str, str]] = {
    "block": "block",
    "assembly": "assembly",
    "sub_assembly": "sub-assembly",
    "part": "part",
    "joint": "joint",
    "outfitting_item": "outfitting item",
    "work_package": "work package",
    "resource": "resource",
}
"""Each role as a planner says it."""
_SHAPE_ROLES: Final = ("block", "assembly", "sub_assembly", "part", "joint", "outfitting_item", "work_package")
"""Roles whose ids a word that names none may still read like ("B099" in a yard of 31 blocks)."""
_SHAPE_SAMPLE: Final = 4096
"""Ids of each role whose shapes are read (evenly spread over the role's nodes)."""
_RANGE_LIMIT: Final = 100_000
"""Largest role whose ids an error reads all of to say what they run from and to."""
_DIGIT_RUN: Final = re.compile(r"\d+")
_HEAD_LIMIT: Final = 1_000_000
"""Largest role whose ids are read whole to find one by its first word."""
_HEAD_CHECK: Final = 64
"""First words of a role's sampled ids checked for being ids themselves."""
_LEADING_PIECE: Final = re.compile(r"^[^\s\-_/.:#]+[\s\-_/.:#]")
"""The first piece of an id and the separator after it ("H1042/" of "H1042/DB03", "WP-" of "WP-DB03-FAB")."""
_PREFIX_SHARE: Final = 0.9
"""Share of a role's ids that must start with the same first piece for it to be a prefix people leave out."""


def _shape(text: str) -> str:
    """What an id looks like, numbers aside: letters (in upper case) and separators kept, each run of digits a 9."""
    return _DIGIT_RUN.sub("9", text.strip().upper())


def _prefixable(text: str) -> bool:
    """Worth completing with a prefix: a letter and a digit, as an id has (a date or a number is not one)."""
    return any(c.isalpha() for c in text) and any(c.isdigit() for c in text)


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _span_words(first: str, last: str) -> str:
    """A role's ids from first to last: "run B001-B012", or "run from brü-01 to sec-12.sb".

    The second when an id holds a hyphen or a space: "brü-01-sec-12.sb" could be cut in several places.
    """
    if "-" in first or "-" in last or any(c.isspace() for c in first + last):
        return f"run from {first} to {last}"
    return f"run {first}-{last}"


class YardCodes:
    """A yard's ids as a person types them: exact, loose (case, separators, leading zeros), or reading like one.

    Nothing here knows a naming scheme: what an id "reads like" is the shape of the yard's own ids of a role
    (letters and separators, numbers aside), sampled from the store.
    """

    def __init__(self, yard: YardStore) -> None:
        self.yard = yard
        self._lock = threading.Lock()
        self._ranges: dict[str, tuple[str, str] | None] = {}

    def find(self, text: str) -> int | None:
        """The node `text` names: the yard's exact id, else the one id of the same loose form (None: none, or two)."""
        stripped = text.strip()
        if not stripped:
            return None
        node = self._typed(stripped)
        if node is not None or not _prefixable(stripped):
            return node
        # the id without the leading part its role's ids share ("DB03" for H1042/DB03): one id must fit
        found = {self._typed(p + stripped) for p in self._prefixes if not loose_key(stripped).startswith(loose_key(p))}
        found.discard(None)
        if len(found) == 1:
            return found.pop()
        # an id said without the word it ends in ("SP-301-07" for the spool SP-301-07 3")
        return self._heads.get(loose_key(stripped))

    def _typed(self, text: str) -> int | None:
        """The yard's exact id, else the one id of the same loose form (None: none, or two)."""
        node = self.yard.ids.get(text)
        if node is not None:
            return node
        key = loose_key(text)
        found = [n for n in self.yard.ids.loose(text) if loose_key(self.yard.id_of(n)) == key]
        return int(found[0]) if len(found) == 1 else None

    def node(self, text: str) -> int:
        """`find`, or an `UnknownCodeError` that says what the yard has instead.

        A text that reads like an id of a role ("B999" in a yard of blocks B001-B012) is told the role's range.
        """
        node = self.find(text)
        if node is not None:
            return node
        stripped = text.strip()
        several = self.candidates(stripped)
        if len(several) > 1:
            shown = " or ".join(repr(c) for c in several[:5]) + (f" ({len(several)} ids)" if len(several) > 5 else "")
            raise UnknownCodeError(
                stripped,
                f"{stripped!r} could be {shown}: this yard has ids that differ only in case or separators; "
                "write the one you mean exactly",
            )
        role, written = self._reads_like(stripped)
        if role is not None:
            noun = ROLE_NOUNS[role]
            span = self._range(role)
            told = f"; {_plural(noun)} {_span_words(*span)}" if span else ""
            raise UnknownCodeError(stripped, f"no {noun} {written!r} in this yard{told}")
        return self.yard.node_of(stripped)  # raises, naming ids close to it

    def candidates(self, text: str) -> list[str]:
        """The yard's ids of the same loose form as `text` (case, separators, leading zeros aside), sorted.

        More than one means `text` is ambiguous ("VENTIL V-1" in a yard with both 'Ventil V-1' and 'ventil v-1'):
        a caller names them rather than guess.
        """
        stripped = text.strip()
        if not stripped:
            return []
        exact = self.yard.ids.get(stripped)
        if exact is not None:
            return [stripped]
        key = loose_key(stripped)
        return sorted(
            c for c in {self.yard.id_of(int(n)) for n in self.yard.ids.loose(stripped)} if loose_key(c) == key
        )

    def reads_like(self, text: str) -> str | None:
        """The role whose ids look like `text` (numbers aside), None when none does."""
        return self._reads_like(text)[0]

    def _reads_like(self, text: str) -> tuple[str | None, str]:
        """The role whose ids look like `text`, and `text` as that role's ids write it (with their shared prefix).

        "DB99" in a yard of blocks H1042/DB01-H1042/DB10 reads like a block, written "H1042/DB99".
        """
        shape = _shape(text)
        role = next((role for role, shapes in self._shapes.items() if shape in shapes), None)
        if role is not None or not _prefixable(text):
            return role, text
        for role, prefix in self._prefix_of.items():
            if not loose_key(text).startswith(loose_key(prefix)) and _shape(prefix + text) in self._shapes[role]:
                return role, prefix + text
        return None, text

    def unknown(self, text: str) -> str | None:
        """A word that reads like one of the yard's ids but names none, as the yard would write it; else None."""
        role, written = self._reads_like(text) if self.find(text) is None else (None, text)
        if role is None:
            return None
        return written.upper() if self._upper[role] else written

    @cached_property
    def _sample(self) -> dict[str, list[str]]:
        import numpy as np

        out: dict[str, list[str]] = {}
        for role in _SHAPE_ROLES:
            nodes = self.yard.nodes_of_role(role)
            if len(nodes):
                picked = nodes[np.unique(np.linspace(0, len(nodes) - 1, min(len(nodes), _SHAPE_SAMPLE)).astype(int))]
                out[role] = self.yard.codes_of(picked)
        return out

    @cached_property
    def _shapes(self) -> dict[str, frozenset[str]]:
        return {role: frozenset(_shape(c) for c in ids) for role, ids in self._sample.items()}

    @cached_property
    def _prefix_of(self) -> dict[str, str]:
        """Per role, the first piece nearly all its ids start with ("H1042/", "WP-"), where there is one."""
        out: dict[str, str] = {}
        for role, ids in self._sample.items():
            pieces = Counter(m.group() for m in map(_LEADING_PIECE.match, ids) if m is not None)
            if pieces:
                piece, count = pieces.most_common(1)[0]
                if len(ids) > 1 and count >= _PREFIX_SHARE * len(ids) and any(c.isalpha() for c in piece):
                    out[role] = piece
        return out

    @cached_property
    def _prefixes(self) -> list[str]:
        """The distinct leading pieces of `_prefix_of`, longest first."""
        return sorted(set(self._prefix_of.values()), key=lambda p: (-len(p), p))

    @cached_property
    def _heads(self) -> dict[str, int]:
        """Ids said without the word they end in: the loose key of the first word -> the node, where one id has it.

        For the roles whose ids end in a word that qualifies them (a spool's size: `SP-301-07 3"`). Only roles
        whose ids' first words are not ids themselves (a part `H1042/DB03-P04 PL0202` starts with its
        panel's id: "H1042/DB03-P04" names the panel, not a part) and that are small enough to read whole.
        """
        import numpy as np

        heads: dict[str, int] = {}
        for role, sample in self._sample.items():
            firsts = [c.split(None, 1)[0] for c in sample if len(c.split(None, 1)) == 2]
            if len(firsts) < max(2, len(sample) // 20):
                continue
            if sum(self.yard.ids.get(f) is not None for f in firsts[:_HEAD_CHECK]) * 2 >= min(len(firsts), _HEAD_CHECK):
                continue  # the first word is an id of its own: a path, not an id and its qualifier
            nodes = self.yard.nodes_of_role(role)
            if len(nodes) > _HEAD_LIMIT:
                continue
            seen: dict[str, int] = {}
            for node, code in zip(np.asarray(nodes).tolist(), self.yard.codes_of(nodes), strict=True):
                parts = code.split(None, 1)
                if len(parts) == 2:
                    key = loose_key(parts[0])
                    seen[key] = -1 if key in seen else int(node)
            heads.update((k, n) for k, n in seen.items() if n >= 0 and k not in heads)
        return heads

    @cached_property
    def _upper(self) -> dict[str, bool]:
        """Per role, whether its ids are written in capitals (then an unknown one is said in capitals too)."""
        return {role: all(c == c.upper() for c in ids) for role, ids in self._sample.items()}

    def _range(self, role: str) -> tuple[str, str] | None:
        """The first and last of a role's ids in sorted order (None for a role too large to read whole)."""
        with self._lock:
            if role not in self._ranges:
                nodes = self.yard.nodes_of_role(role)
                ids = sorted(self.yard.codes_of(nodes)) if 0 < len(nodes) <= _RANGE_LIMIT else []
                self._ranges[role] = (ids[0], ids[-1]) if ids else None
            return self._ranges[role]


_CODES: weakref.WeakKeyDictionary[YardStore, YardCodes] = weakref.WeakKeyDictionary()
_CODES_LOCK = threading.Lock()


def yard_codes(yard: YardStore) -> YardCodes:
    """The `YardCodes` of an opened yard, made once per store."""
    with _CODES_LOCK:
        found = _CODES.get(yard)
        if found is None:
            found = _CODES[yard] = YardCodes(yard)
        return found


def node_of(yard: YardStore, code: str) -> int:
    """The node of a code as a person types it (`YardCodes.node`): an `UnknownCodeError` that says what there is."""
    return yard_codes(yard).node(code)
