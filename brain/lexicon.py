"""What a question names in this yard: its codes, resources and zones, found by lookup, never by a naming pattern.

A yard's ids are its own (`H1234/B12-A03 PL0042`, `SP-300-12"`, `B214`), so no regular expression can say what a
code looks like. The lexicon asks the yard instead. Each stretch of one to three words of the question is looked up:

1. **exact**: the yard's own id, as the yard spells it, or typed loosely (`lookup`: the yard's id index);
2. **loose**: the same id typed differently: case, separators and leading zeros do not count (`loose_key`:
   "j20-88" is J020-000088, "b22" is B022, "wp b12 ere" is WP-B012-ERE), when exactly one id has that key;
   without the leading piece nearly all ids of a role share ("DB03" is H1042/DB03, "DB03-FAB" is WP-DB03-FAB), or
   without the word an id ends in ("SP-301-07" is the spool SP-301-07 3"), when exactly one id fits (`YardCodes`);
3. **by role and number**: "block 25", "assembly no. 3 of ...": a role word (or one of the yard's kind names)
   then a number, matched against the numbers in the ids of that role (`named`), when exactly one id fits; inside
   a parent also the last piece of the id ("plate PL0202 of DB03-P04", "panel P04 of block DB03");
4. **typo-tolerant**: a word with letters and digits that is none of the above, matched against the ids of the
   yard's named roles (blocks, assemblies, work packages) when one is clearly closest ("B0l2" -> B012).

Resources are found by their id, or by their kind in words and a number ("panel line 2", "crane one"); where
several of a kind fit, the word said before the kind must give the id's letters ("goliath crane 2" is GC-2, not
TC-2; "the curved panel line" is CPL-1). Zones are found by their name ("hold five" is HOLD 5). What the lexicon
does not find is not a code: the planner never invents one.

A yard's lexicon (`Lexicon.of`) reads its store: ids through its id index, roles and kinds from its `yard.toml`,
resources with their `resource_kind`, zones from the blocks' and items' `zone` fields. `YardCodes` (`yard_codes`)
finds the node of a code as a person types it for the tools, and says what a code that names nothing reads like
("no block 'B999' in this yard; blocks run B001-B012"), from the shapes of the yard's own ids.

```python
lex = Lexicon(lookup=graph_lookup, named={"block": ["B001", "B002"]}, resources={"PL-2": "panel_line"})
[m.text for m in lex.codes("is block 2 late? and b1?")]  # ['B002', 'B001']
lex.resource("panel line two is down")  # Mention(text='PL-2', ...)
```
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Final, Literal, Protocol

from brain.core.codes import ROLE_NOUNS, YardCodes, loose_key, node_of, yard_codes
from knowledge.yardformat.fields import ROLES

if TYPE_CHECKING:
    from brain.core import YardContext
    from knowledge.store import YardStore

__all__ = [
    "NAMED_ROLES",
    "ROLE_NOUNS",
    "LazyLexicon",
    "Lexicon",
    "Mention",
    "Names",
    "YardCodes",
    "loose_key",
    "node_of",
    "numbers_in",
    "yard_codes",
]

How = Literal["exact", "loose", "role", "fuzzy", "unknown"]
Lookup = Callable[[str], "tuple[str, str] | None"]
"""text -> (the id as the yard spells it, its role or kind), or None when the yard has no such id."""

MAX_WORDS: Final = 3
"""Longest id, in words, that is looked up (ids may hold spaces: "H1234/B12-A03 PL0042")."""

_DIGITS: Final = re.compile(r"\d+")
_WORD: Final = re.compile(r"\S+")
_JOINED: Final = re.compile(r"\w[/,+&]\w")
"""Ids joined in one word ("B012/B019", "B3,B4"): read piece by piece when the whole names nothing."""
_PIECE: Final = re.compile(r"[^/,+&]+")
_SEPARATED: Final = re.compile(r"\w[\-_/.:#]\w")
"""A separator inside a word ("dock/ä", "PL-2"): what marks a word as an id rather than an ordinary word."""
# What may wrap a word without being part of an id: quotes, brackets, sentence punctuation, a possessive.
_STRIP_LEFT: Final = "\"'“”‘’([{<«"
_STRIP_RIGHT: Final = "\"'“”‘’)]}>»,;:!?."
_POSSESSIVE: Final = re.compile(r"(?:'s|’s|')$", re.IGNORECASE)
_NUMBER_WORDS: Final = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}
_ORDINALS: Final = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}
_NUMBER_PREFIX: Final = re.compile(r"^(?:no\.?|nr\.?|number|#)$", re.IGNORECASE)
_DURATION_AFTER: Final = re.compile(
    r"^\s*(?:working\s+|calendar\s+)?(?:days?|d|weeks?|wks?|w|months?|hours?|hrs?|h|%|percent|per\s*cent|x|times)\b",
    re.IGNORECASE,
)
ROLE_WORDS: Final[dict[str, str]] = {
    "block": "block",
    "blocks": "block",
    "blk": "block",
    "assembly": "assembly",
    "assemblies": "assembly",
    "assy": "assembly",
    "sub-assembly": "sub_assembly",
    "subassembly": "sub_assembly",
    "sub": "sub_assembly",
    "part": "part",
    "joint": "joint",
    "weld": "joint",
    "item": "outfitting_item",
    "package": "work_package",
    "wp": "work_package",
}
"""English words for the roles the brain understands; a yard's own kind names are added to them."""
OUTAGE_WORDS: Final = re.compile(
    r"\b(?:down|closed|closes|shut|blocked|unavailable|unusable|out|offline|flooded|occupied|maintenance|outage"
    r"|closure|shutdown|breaks?|broken|fails?|failure|stops?|stopped|repairs?|lose|lost|losing|loses|without)\b",
    re.IGNORECASE,
)
_LOST_BEFORE: Final = re.compile(
    r"\b(?:lose|lost|losing|loses|without|close|closing|shut|block(?:ing)?)\s+(?:the\s+)?$", re.IGNORECASE
)
_FUZZY_CUTOFF: Final = 0.8
_MAX_CHILDREN: Final = 250_000
"""Most ids of one role inside another that "joint 1426 of block 12" reads through (a block's joints at 25M parts)."""
_QUANTITY: Final = re.compile(r"[+\-]?\d+(?:[.,]\d+)?[a-z%]{0,5}")
_CONFUSABLE: Final = {"o": "0", "l": "1", "i": "1"}
_CONFUSED_DIGIT: Final = re.compile(r"(?<=\d)[oli]|[oli](?=\d)", re.IGNORECASE)


def numbers_in(text: str) -> tuple[int, ...]:
    """The numbers written in an id, in order ("B012-A03" -> (12, 3))."""
    return tuple(int(d) for d in _DIGITS.findall(text))


@dataclass(frozen=True)
class Mention:
    """One thing the question names: the yard's id for it, where it stands in the question, and how it was found."""

    text: str
    """The id as the yard spells it."""
    start: int
    end: int
    role: str
    """What it is: a role (block, assembly, work_package, resource, zone, ...) or the yard's kind."""
    how: How


class Names(Protocol):
    """What a planner asks of a yard's vocabulary (`Lexicon`, or a `LazyLexicon` that makes one on first use)."""

    def codes(self, text: str) -> list[Mention]:
        """The yard's ids the text names, in order, each once."""
        ...

    def resource(self, text: str, *, down: bool = True) -> Mention | None:
        """The first of the yard's resources the text names (`down`: a kind said alone only when it is down)."""
        ...

    def zone(self, text: str) -> Mention | None:
        """The first of the yard's zones the text names."""
        ...

    def example(self, role: str) -> str | None:
        """One of the yard's ids of `role` (to show what its codes look like), None when it has none."""
        ...


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int


@dataclass
class Lexicon:
    """The yard's vocabulary: how to look up an id, the ids of its named roles, its resources and zones."""

    lookup: Lookup
    """The yard's exact lookup (a code as the yard spells it, or as its own lookup accepts it)."""
    named: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """role -> the ids of that role small enough to match by number or by a typo (blocks, assemblies, packages)."""
    resources: Mapping[str, str] = field(default_factory=dict)
    """resource id -> its kind ("PL-2" -> "panel_line")."""
    zones: Sequence[str] = ()
    role_words: Mapping[str, str] = field(default_factory=lambda: dict(ROLE_WORDS))
    children: Callable[[str, str], Sequence[str]] | None = None
    """(an id, a role) -> the ids of that role inside it ("joint 1426 of block 12"); None when the yard cannot say."""
    examples: Mapping[str, str] = field(default_factory=dict)
    """role -> one of the yard's ids of that role, to show what its codes look like ("such as B012")."""
    max_words: int = MAX_WORDS
    """Longest id, in words, that is looked up: the yard's longest named id or resource, at least `MAX_WORDS`."""
    unknown: Callable[[str], str | None] | None = None
    """A word the yard reads as one of its ids although it has none such ("B099" in a yard of 31 blocks) -> the id
    as the yard would spell it, so the tool can say it is not in the yard; None for a word that is no id at all."""
    """(an id, a role) -> the ids of that role inside it ("joint 1426 of block 12"); None when the yard cannot say."""

    # ---- the indexes, made once ------------------------------------------------------------------

    @cached_property
    def _loose(self) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for role, ids in self.named.items():
            for code in ids:
                found.setdefault(loose_key(code), []).append((code, role))
        return found

    @cached_property
    def _by_number(self) -> dict[tuple[str, tuple[int, ...]], list[str]]:
        found: dict[tuple[str, tuple[int, ...]], list[str]] = {}
        for role, ids in self.named.items():
            for code in ids:
                numbers = numbers_in(code)
                # "block 25" names B025; "assembly 3" names no assembly of a yard of many blocks (ambiguous)
                for key in {numbers, numbers[-1:]}:
                    found.setdefault((role, key), []).append(code)
        return found

    @cached_property
    def _by_numbers_exactly(self) -> dict[tuple[int, ...], list[tuple[str, str]]]:
        found: dict[tuple[int, ...], list[tuple[str, str]]] = {}
        for role, ids in self.named.items():
            for code in ids:
                found.setdefault(numbers_in(code), []).append((code, role))
        return found

    @cached_property
    def _resource_loose(self) -> dict[str, str]:
        return {loose_key(code): code for code in self.resources}

    @cached_property
    def _resource_kinds(self) -> list[tuple[re.Pattern[str], str]]:
        """A pattern per resource kind: its words ("panel_line" -> "panel line", "panel-line", "panel lines").

        The match is the kind's words alone (where the question names the resource), whatever stands before them.
        """
        patterns = []
        for kind in sorted(set(self.resources.values()), key=len, reverse=True):
            words = [w for w in re.split(r"[_\s\-]+", kind) if w]
            if not words:
                continue
            # a letter typed twice still reads ("pannel line"): each letter may repeat
            body = r"[\s\-]*".join("".join(re.escape(c) + "+" for c in w) for w in words)
            patterns.append((re.compile(rf"\b{body}s?\b", re.IGNORECASE), kind))
        return patterns

    @cached_property
    def _zone_loose(self) -> dict[str, str]:
        return {loose_key(z): z for z in self.zones}

    # ---- codes ----------------------------------------------------------------------------------

    def codes(self, text: str) -> list[Mention]:
        """The yard's ids the text names, in the order it names them, each once.

        A word that names nothing but joins ids with a slash or a comma ("B012/B019") is read piece by piece.
        """
        words = [_Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        taken = [False] * len(words)
        found = self._find(words, taken)
        pieces = [
            _Word(p.group(), w.start + p.start(), w.start + p.end())
            for w, used in zip(words, taken, strict=True)
            if not used and _JOINED.search(w.text)
            for p in _PIECE.finditer(w.text)
        ]
        if pieces:
            found += self._find(pieces, [False] * len(pieces))
        found.sort(key=lambda m: m.start)
        unique: dict[str, Mention] = {}
        for mention in found:
            unique.setdefault(mention.text, mention)
        return list(unique.values())

    def _find(self, words: Sequence[_Word], taken: list[bool]) -> list[Mention]:
        found: list[Mention] = []
        for finder in (
            self._role_in_parent_at,
            self._exact,
            self._loose_at,
            self._role_at,
            self._fuzzy_at,
            self._unknown_at,
        ):
            i = 0
            while i < len(words):
                if taken[i]:
                    i += 1
                    continue
                hit = finder(words, i, taken)
                if hit is None:
                    i += 1
                    continue
                mention, used = hit
                for j in range(i, i + used):
                    taken[j] = True
                found.append(mention)
                i += used
        return found

    def _spans(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> Iterable[tuple[str, int, int, int]]:
        """Candidate texts starting at word i, longest first: (text, start, end, words used)."""
        for n in range(min(self.max_words, len(words) - i), 0, -1):
            if any(taken[i : i + n]):
                continue
            first, last = words[i], words[i + n - 1]
            raw_start, raw_end = first.start, last.end
            raw = " ".join(w.text for w in words[i : i + n])
            for candidate, lead, trail in _trimmed(raw):
                if candidate:
                    yield candidate, raw_start + lead, raw_end - trail, n

    def _exact(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        for candidate, start, end, n in self._spans(words, i, taken):
            if not _could_be_id(candidate):
                continue
            hit = self.lookup(candidate)
            if hit is not None:
                return Mention(hit[0], start, end, hit[1], "exact"), n
        return None

    def _loose_at(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        for candidate, start, end, n in self._spans(words, i, taken):
            if not _could_be_id(candidate):
                continue
            hits = self._loose.get(loose_key(candidate), [])
            if len(hits) == 1:
                return Mention(hits[0][0], start, end, hits[0][1], "loose"), n
        return None

    def _role_in_parent_at(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        return self._role_at(words, i, taken, inside_only=True)

    def _role_at(
        self, words: Sequence[_Word], i: int, taken: Sequence[bool], *, inside_only: bool = False
    ) -> tuple[Mention, int] | None:
        """A role word and a number ("block 25"), maybe inside a parent ("assembly no. 3 of block 12")."""
        role = self.role_words.get(words[i].text.strip(_STRIP_LEFT + _STRIP_RIGHT).casefold())
        if role is None:
            return None
        j = i + 1
        if j < len(words) and _NUMBER_PREFIX.match(words[j].text) and not taken[j]:
            j += 1
        if j >= len(words) or taken[j]:
            return None
        token = _POSSESSIVE.sub("", words[j].text.strip(_STRIP_LEFT + _STRIP_RIGHT))
        number = _number(token)
        # or the last piece of the id ("panel P04 of DB03", "plate PL0202 of DB03-P04"): only inside a parent
        piece = loose_key(token) if number is None and _could_be_id(token) else None
        if (number is None and piece is None) or _DURATION_AFTER.match(_rest(words, j)):
            return None
        k = j + 1
        if k + 1 < len(words) and words[k].text.casefold() in ("of", "in", "on", "from") and self.children is not None:
            parent = self._parent_at(words, k + 1, taken)
            if parent is not None:
                mention, used = parent
                inside = self.children(mention.text, role)
                if number is not None:
                    hits = [c for c in inside if numbers_in(c)[-1:] == (number,)]
                else:
                    hits = [c for c in inside if loose_key(_last_piece(c)) == piece]
                if len(hits) == 1:
                    return Mention(hits[0], words[i].start, mention.end, role, "role"), k + 1 + used - i
        if number is None:
            return None
        hits = self._by_number.get((role, (number,)), []) if role in self.named and not inside_only else []
        if len(hits) != 1:
            return None
        return Mention(hits[0], words[i].start, words[j].end, role, "role"), j + 1 - i

    def _parent_at(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        first = i
        if i < len(words) and words[i].text.casefold() == "the":
            i += 1
        for finder in (self._exact, self._loose_at):
            hit = finder(words, i, taken)
            if hit is not None:
                return hit[0], hit[1] + i - first
        role = (
            self.role_words.get(words[i].text.strip(_STRIP_LEFT + _STRIP_RIGHT).casefold()) if i < len(words) else None
        )
        if role is not None and i + 1 < len(words):  # the parent's role word, then its id ("of block DB03")
            for finder in (self._exact, self._loose_at):
                hit = finder(words, i + 1, taken)
                if hit is not None and hit[0].role == role:
                    mention, used = hit
                    return Mention(mention.text, words[i].start, mention.end, role, mention.how), used + 1 + i - first
        if role is None or role not in self.named or i + 1 >= len(words):
            return None
        number = _number(_POSSESSIVE.sub("", words[i + 1].text.strip(_STRIP_LEFT + _STRIP_RIGHT)))
        hits = self._by_number.get((role, (number,)), []) if number is not None else []
        if len(hits) != 1:
            return None
        return Mention(hits[0], words[i].start, words[i + 1].end, role, "role"), 2 + i - first

    def _fuzzy_at(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        *_, (candidate, lead, trail) = _trimmed(words[i].text)
        if len(candidate) < 3 or not any(c.isdigit() for c in candidate) or not any(c.isalpha() for c in candidate):
            return None
        key = loose_key(candidate)
        if candidate[0].isdigit() and _DURATION_AFTER.match(_rest(words, i)) or _QUANTITY.fullmatch(key):
            return None  # a quantity ("40h", "3wks", "12%"), not a code
        start, end = words[i].start + lead, words[i].end - trail
        hits = self._loose.get(loose_key(_CONFUSED_DIGIT.sub(lambda m: _CONFUSABLE[m.group().casefold()], candidate)))
        if hits is not None and len(hits) == 1:  # "BO12", "B0l2": a letter typed for the digit it looks like
            return Mention(hits[0][0], start, end, hits[0][1], "fuzzy"), 1
        # a slip in the letters only ("WP-B12-ERC"): the numbers must be the same, and one id clearly closest
        same_numbers = self._by_numbers_exactly.get(numbers_in(candidate), [])
        scored = sorted(
            ((difflib.SequenceMatcher(None, key, loose_key(code)).ratio(), code, role) for code, role in same_numbers),
            reverse=True,
        )
        if not scored or scored[0][0] < _FUZZY_CUTOFF or (len(scored) > 1 and scored[1][0] >= scored[0][0]):
            return None
        return Mention(scored[0][1], start, end, scored[0][2], "fuzzy"), 1

    def _unknown_at(self, words: Sequence[_Word], i: int, taken: Sequence[bool]) -> tuple[Mention, int] | None:
        if self.unknown is None:
            return None
        *_, (candidate, lead, trail) = _trimmed(words[i].text)
        said = self.unknown(candidate) if _could_be_id(candidate) else None
        if said is None:
            return None
        return Mention(said, words[i].start + lead, words[i].end - trail, "unknown", "unknown"), 1

    # ---- resources and zones ------------------------------------------------------------------

    def resource(self, text: str, *, down: bool = True) -> Mention | None:
        """The first resource the text names: by its id ("PL-2", "pl2") or its kind and number ("panel line 2").

        A kind said without a number names a resource only when the yard has one of that kind and the text says it
        is down ("the dock is closed"): a block that goes "into the dock" names no resource. With `down=False` the
        kind alone is enough (a what-if's follow-up: "and the same for the dock?").
        """
        found = self._resources_by_id(text)
        for pattern, kind in self._resource_kinds:
            of_kind = [code for code, k in self.resources.items() if k == kind]
            for match in pattern.finditer(text):
                after = text[match.end() :]
                number_match = re.match(
                    r"[\s\-]*(?:no\.?\s*|nr\.?\s*|number\s+|#\s*)?([0-9]{1,3}|[a-z]+)\b", after, re.IGNORECASE
                )
                number = _number(number_match.group(1)) if number_match else None
                if number is not None and number_match is not None:
                    if _DURATION_AFTER.match(after[number_match.end() :]):
                        number = None
                if number is not None and number_match is not None:
                    hits = [c for c in of_kind if numbers_in(c)[-1:] == (number,)]
                    if len(hits) > 1:  # "goliath crane 2" among GC-2 and TC-2: the id's letters are its initials
                        said = _initials(text[: match.start()], kind)
                        # nothing said before the kind: the one whose letters are the kind's own initials ("panel
                        # line 1" among PL-1 and CPL-1 is PL-1)
                        said = said or _initials("", kind, alone=True)
                        hits = [c for c in hits if said and _id_letters(c) == said]
                    if len(hits) == 1:
                        end = match.end() + number_match.end()
                        found.append(Mention(hits[0], match.start(), end, "resource", "role"))
                        continue
                said = _initials(text[: match.start()], kind) if number is None and len(of_kind) > 1 else ""
                one = [c for c in of_kind if _id_letters(c) == said] if said else of_kind
                if len(one) == 1 and (not down or self._said_down(text, match.start(), match.end())):
                    found.append(Mention(one[0], match.start(), match.end(), "resource", "role"))
        return min(found, key=lambda m: m.start) if found else None

    def _resources_by_id(self, text: str) -> list[Mention]:
        """The resources the text names by their id, which may be several words ("PL-2", "halle 1", "dock/ä")."""
        found: list[Mention] = []
        words = [_Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        free = [False] * len(words)
        for i in range(len(words)):
            for candidate, start, end, _ in self._spans(words, i, free):
                # an id with a digit or a separator in it, typed loosely; a plain word only as the yard writes it (a
                # resource named "dock" is not every "into the dock")
                code = self._resource_loose.get(loose_key(candidate))
                if code is None or (" " in candidate and _DURATION_AFTER.match(text[end:])):
                    continue  # "panel line 3 days late": the number says how long, it is no part of an id
                marked = any(c.isdigit() for c in candidate) or _SEPARATED.search(candidate) is not None
                if marked or candidate == code:
                    found.append(Mention(code, start, end, "resource", "exact"))
                    break
        return found

    @staticmethod
    def _said_down(text: str, start: int, end: int) -> bool:
        before = text[max(0, start - 30) : start]
        after = text[end : end + 40]
        lost_before = re.search(
            r"\b(?:lose|lost|losing|loses|without|close|closing|shut|block(?:ing)?)\s+(?:the\s+)?$", before, re.I
        )
        return bool(lost_before) or bool(re.match(r"^\s+(?:\w+\s+){0,3}?" + OUTAGE_WORDS.pattern, after, re.I))

    def zone(self, text: str) -> Mention | None:
        """The first of the yard's zones the text names.

        Case and separators do not count, and a zone may be several words ("engine room", "MVZ3 L1").
        """
        if not self._zone_loose:
            return None
        words = [_Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        free = [False] * len(words)
        for i in range(len(words)):
            for candidate, start, end, _ in self._spans(words, i, free):
                zone = self._zone_loose.get(loose_key(candidate)) or self._zone_loose.get(_digits_for_words(candidate))
                if zone is not None:
                    return Mention(zone, start, end, "zone", "loose")
        return None

    def example(self, role: str) -> str | None:
        """One of the yard's ids of `role`: from `examples`, else the first of `named` or of the resources."""
        if role in self.examples:
            return self.examples[role]
        if self.named.get(role):
            return self.named[role][0]
        if role == "resource" and self.resources:
            return next(iter(self.resources))
        if role == "zone" and self.zones:
            return self.zones[0]
        return None

    # ---- a yard's lexicon ---------------------------------------------------------------------

    @classmethod
    def of(cls, ctx: YardContext) -> Lexicon:
        """The lexicon of an opened yard: its part graph's lookup, its work packages, resources and zones."""
        return _lexicon_of(ctx)


class LazyLexicon:
    """A yard's `Lexicon`, made on the first question that needs it (a service's start reads no table for it)."""

    def __init__(self, ctx: YardContext) -> None:
        self._ctx = ctx
        self._lexicon: Lexicon | None = None
        self._lock = threading.Lock()

    @property
    def lexicon(self) -> Lexicon:
        """The yard's lexicon (made once, thread-safe)."""
        with self._lock:
            if self._lexicon is None:
                self._lexicon = Lexicon.of(self._ctx)
            return self._lexicon

    def codes(self, text: str) -> list[Mention]:
        """`Lexicon.codes`."""
        return self.lexicon.codes(text)

    def resource(self, text: str, *, down: bool = True) -> Mention | None:
        """`Lexicon.resource`."""
        return self.lexicon.resource(text, down=down)

    def zone(self, text: str) -> Mention | None:
        """`Lexicon.zone`."""
        return self.lexicon.zone(text)

    def example(self, role: str) -> str | None:
        """`Lexicon.example`."""
        return self.lexicon.example(role)


def _trimmed(raw: str) -> Iterable[tuple[str, int, int]]:
    """The word as written, then without wrapping punctuation, then without a possessive: (text, cut left, right)."""
    yield raw, 0, 0
    left = len(raw) - len(raw.lstrip(_STRIP_LEFT))
    stripped = raw[left:].rstrip(_STRIP_RIGHT)
    right = len(raw) - left - len(stripped)
    if (left or right) and stripped:
        yield stripped, left, right
    unpossessed = _POSSESSIVE.sub("", stripped)
    if unpossessed != stripped and unpossessed:
        yield unpossessed, left, right + len(stripped) - len(unpossessed)


_LETTER_ID: Final = re.compile(r"[A-Z]+(?:[\-/_.][A-Z]+)+|[a-zA-Z]+(?:[\-/_.][a-zA-Z]+){3,}")
"""An id without digits: capitals joined by separators ("WP-OB-BW-ER", "SYS-BW", "CREW-PI"), or four or more pieces
of letters in any case ("wp-ob-bw-er"); a word in lower case of fewer pieces ("on-board") is not looked up."""
_LAST_PIECE: Final = re.compile(r"[^\s\-_/.:#]+")


def _could_be_id(text: str) -> bool:
    """Worth a lookup: not a plain word or a plain number (those name no code without a role word before them).

    A word with a digit may be an id; so may one of capitals joined by separators ("WP-OB-BW-ER"), never a word in
    lower case ("on-board", "sub-assembly") unless it has four pieces or more ("wp-ob-bw-er").
    """
    if re.fullmatch(r"[\d.,]+%?", text):
        return False
    return any(c.isdigit() for c in text) or _LETTER_ID.fullmatch(text) is not None


def _initials(before: str, kind: str, *, alone: bool = False) -> str:
    """The initials of the word said before a resource kind and of the kind's words ("goliath" "crane" -> "GC").

    Empty when no word of letters stands right before the kind; with `alone`, the kind's own initials
    ("panel line" -> "PL").
    """
    kind_words = [w for w in re.split(r"[_\s\-]+", kind) if w]
    if alone:
        return "".join(w[0] for w in kind_words).upper()
    word = re.search(r"([^\W\d_]+)[\s\-]*$", before)
    if word is None or word.group(1).casefold() in _NOT_QUALIFIERS:
        return ""
    return "".join(w[0] for w in [word.group(1), *kind_words]).upper()


_NOT_QUALIFIERS: Final = frozenset(
    "a an the if of on at in for from to and or is are was be our their its this that when what which whose".split()
)
"""Words before a resource kind that say nothing about which one it is ("if panel line 1 is down")."""


def _id_letters(code: str) -> str:
    """The letters an id starts with, in capitals ("GC-2" -> "GC", "CPL-1" -> "CPL")."""
    found = re.match(r"[^\W\d_]+", code)
    return found.group().upper() if found else ""


def _last_piece(code: str) -> str:
    """The last piece of an id, after its last separator ("PL0202" of "H1042/DB03-P04 PL0202")."""
    pieces = _LAST_PIECE.findall(code)
    return pieces[-1] if pieces else ""


def _digits_for_words(text: str) -> str:
    """The loose key of a text with its numbers in words written in digits ("hold five" -> "hold5")."""
    return loose_key(" ".join(str(_NUMBER_WORDS.get(w.casefold(), w)) for w in text.split()))


def _number(token: str) -> int | None:
    word = token.casefold()
    if word.isdigit():
        return int(word)
    return _NUMBER_WORDS.get(word, _ORDINALS.get(word))


def _rest(words: Sequence[_Word], i: int) -> str:
    return " " + " ".join(w.text for w in words[i + 1 : i + 3])


def _lexicon_of(ctx: YardContext) -> Lexicon:
    yard = ctx.yard
    codes = yard_codes(yard)

    def lookup(text: str) -> tuple[str, str] | None:
        node = codes.find(text)
        if node is None:
            # ids that differ only in case or separators ("VENTIL V-1" for 'Ventil V-1' and 'ventil v-1'): the text
            # is still a code, of no kind yet, so the tool names the candidates instead of the planner asking for one
            return (text.strip(), "unknown") if len(codes.candidates(text)) > 1 else None
        return yard.code_of(node), yard.role_of(node) or yard.kind_of(node)

    named: dict[str, list[str]] = {}
    for role in NAMED_ROLES:
        nodes = yard.nodes_of_role(role)
        if len(nodes):
            named[role] = yard.codes_of(nodes)
    examples: dict[str, str] = {}
    for role in ROLES:
        nodes = yard.nodes_of_role(role)
        if len(nodes):
            examples[role] = yard.code_of(int(nodes[0]))
    words = dict(ROLE_WORDS)
    for role, kinds in yard.roles.items():
        for kind in kinds:
            words.setdefault(kind.casefold(), role)
    for kind in yard.kinds:
        words.setdefault(kind.casefold(), kind)

    def children(code: str, role: str) -> Sequence[str]:
        if role not in yard.roles and role not in yard.kinds:
            return []
        inside = yard.members(yard.node_of(code), kinds=[role])
        return yard.codes_of(inside) if len(inside) <= _MAX_CHILDREN else []

    resources = _resources(yard)
    longest = max((len(code.split()) for ids in [*named.values(), resources] for code in ids), default=0)
    return Lexicon(
        lookup=lookup,
        named=named,
        max_words=max(MAX_WORDS, longest),
        resources=resources,
        zones=_zones(yard),
        role_words=words,
        children=children,
        examples=examples,
        unknown=codes.unknown,
    )


def _resources(yard: YardStore) -> dict[str, str]:
    """Each resource's id and its kind in words ("" where the yard gives no `resource_kind`)."""
    nodes = yard.nodes_of_role("resource")
    if not len(nodes):
        return {}
    ids = yard.codes_of(nodes)
    if "resource_kind" not in yard.fields("resource"):
        return dict.fromkeys(ids, "")
    kinds = yard.role_table("resource", ["resource_kind"]).column("resource_kind").to_pylist()
    return {code: str(kind or "") for code, kind in zip(ids, kinds, strict=True)}


def _zones(yard: YardStore) -> list[str]:
    """The zones the yard's blocks and outfitting items name (their `zone` fields), sorted."""
    found: set[str] = set()
    for role in ("block", "outfitting_item"):
        if yard.count(role) and "zone" in yard.fields(role):
            found.update(str(z) for z in yard.role_table(role, ["zone"]).column("zone").to_pylist() if z)
    return sorted(found)


NAMED_ROLES: Final = ("block", "assembly", "work_package")
"""Roles few enough to match by number ("block 25") or by a typo: their ids are all read into the lexicon."""
