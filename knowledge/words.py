"""Nouns in answers and messages: "a"/"an" by sound, and plurals only of the English words Shipbrain itself uses.

A yard's kinds are its own words (`rumpf`, `anlage`, `SYS`): they are never given an English plural ("2 rumpfs")
and their article follows how the word starts ("an anlage"), so messages read right in any yard.

```python
from knowledge.words import count, plural, with_article

with_article("anlage"), with_article("outfitting item"), with_article("unit")   # 'an anlage', ...
count(3, "assembly"), count(2, "rumpf"), count(1, "rumpf")   # '3 assemblies', '2 of kind rumpf', '1 rumpf'
plural("work package"), plural("rumpf")                        # 'work packages', 'rumpf'
```
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ENGLISH_NOUNS", "article", "count", "is_english_noun", "plural", "with_article"]

ENGLISH_NOUNS: Final = frozenset(
    {
        "activity",
        "assembly",
        "block",
        "chain",
        "crane",
        "day",
        "defect",
        "dock",
        "document",
        "erection",
        "event",
        "field",
        "hour",
        "id",
        "item",
        "joint",
        "kind",
        "line",
        "model",
        "node",
        "package",
        "panel",
        "part",
        "resource",
        "role",
        "row",
        "section",
        "step",
        "sub-assembly",
        "system",
        "task",
        "trade",
        "workshop",
        "zone",
    }
)
"""The English nouns Shipbrain's own words end in (role nouns, units of work); only these get an English plural."""
_AN_BEFORE_U: Final = re.compile(r"^u(?:ni|se|su|ti|ra|re|ro|ku|bi)|^eu|^ewe|^one\b|^once\b")
"""Words that start with a vowel letter but sound like "you" or "won": "a unit", "a user", "a one-sided joint"."""
_SILENT_H: Final = ("hour", "honest", "honour", "honor", "heir")
_LETTERS_AN: Final = frozenset("AEFHILMNORSX")
"""Letters whose name starts with a vowel sound ("an NDT plan", "an SMAW joint")."""


def article(word: str) -> str:
    """The article before `word`, "a" or "an", by how it is said (guessed from the spelling of a foreign word)."""
    text = word.strip()
    if not text:
        return "a"
    first = text.split()[0]
    if 1 < len(first) <= 5 and first.isupper() and first.isalpha() and not re.search(r"[AEIOU]", first[1:]):
        return "an" if first[0] in _LETTERS_AN else "a"  # said letter by letter
    low = first.casefold()
    if low.startswith(_SILENT_H):
        return "an"
    if _AN_BEFORE_U.match(low):
        return "a"
    return "an" if low[:1] in "aeiouäöüàáâéèêíóôú" else "a"


def with_article(word: str) -> str:
    """`word` with its article: "a block", "an assembly", "an anlage"."""
    return f"{article(word)} {word}"


def is_english_noun(noun: str) -> bool:
    """Whether the noun's last word is one of Shipbrain's English nouns (so it takes an English plural)."""
    words = noun.replace("_", " ").split()
    return bool(words) and words[-1].casefold() in ENGLISH_NOUNS


def plural(noun: str) -> str:
    """The plural of one of Shipbrain's nouns ("assembly" -> "assemblies"); a yard's own word as it is written."""
    noun = noun.replace("_", " ")
    if not is_english_noun(noun):
        return noun
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "es" if noun.endswith(("s", "sh", "ch", "x")) else noun + "s"


def count(n: int, noun: str) -> str:
    """`n` and the noun: "1 block", "3 assemblies", "12,034 nodes"; a yard's own word "2 of kind rumpf"."""
    noun = noun.replace("_", " ")
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {plural(noun)}" if is_english_noun(noun) else f"{n:,} of kind {noun}"
