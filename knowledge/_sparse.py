"""Keyword (sparse) vectors for the document store: a tokenizer, a light stemmer and BM25 term weights.

Nothing here is learned or downloaded: a text's terms are its words and numbers, lower-cased, folded to
ASCII where that is harmless, stemmed by a few suffix rules, stop words left out; each term is one
dimension (a stable 31-bit hash of the term). A document's value for a term is BM25's term-frequency
part (`tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / AVG_LEN))`), summed over its fields with a weight each
(title, heading, body: `document_vector`), a query's is 1 per distinct term;
the inverse document frequency is Qdrant's (`Modifier.IDF` on the sparse vector), so the dot product
of the two is the query's BM25 score against the collection as it is now.

The tokenizer keeps what a shipyard's documents mean by their symbols: steel grades and codes stay one
term (`EH36`, `B214`, `DN200` -> `eh36`, `b214`, `dn200`), a number glued to its unit comes apart
(`14mm` -> `14 mm`), a decimal stays whole (`0.84`), a hyphenated or slashed word gives its parts and
the joined word (`flux-cored` -> `flux`, `cored`, `fluxcored`; `h/m` -> `hm`).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["AVG_LEN", "B", "K1", "document_vector", "query_vector", "term_index", "terms"]

K1: Final = 1.2
B: Final = 0.75
AVG_LEN: Final = 40.0
"""The length (in terms) BM25 normalises by: fixed, so a document's vector does not depend on what else is
indexed (a typical passage; a longer section's term counts are damped more)."""

STOP_WORDS: Final = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each either else etc ever every few for
    from further get gets got had has have having he her here hers him his how i if in into is it its itself
    just let lets may me might more most much must my no nor not of off on once one only or other our ours
    out over own per please same shall she should so some such than that the their theirs them then there
    these they this those through to too under until up upon us very via was we were what whats when where
    which while who whom whose why will with within would yes yet you your yours
    anything anyone everything everyone nothing someone something somewhere thing things
    actually exactly just quite rather really roughly still supposed even well like
    get gets getting got give given go goes going know need needs put say says see take tell want way
    """.split()
)
"""Words that say nothing about which section answers: articles, pronouns, auxiliaries, question words, and the
fillers and light verbs of a spoken question ("what do we need to do about ...", "roughly", "actually")."""

_UNITS: Final = frozenset({"mm", "cm", "m", "km", "kg", "t", "h", "min", "s", "l", "kj", "kn", "a", "v", "bar", "c"})
_WORD: Final = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?(?:[-/][a-z0-9]+(?:\.[0-9]+)?)*")
_NUMBER_UNIT: Final = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([a-z]+)$")
_FOLD: Final = str.maketrans(
    {"\u00b0": " ", "\u00b5": "u", "\u00d7": " x ", "\u2013": "-", "\u2014": " ", "\u2212": "-"}
)


def _stem(word: str) -> str:
    """A light English stemmer (plural, -ing, -ed, a final e): `welds`, `welding`, `welded` all give `weld`.

    Each rule applies once, in order; words of three letters or fewer and words with digits stay as they are.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) >= 5:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("es") and word[-3] in "sxz" and len(word) >= 5:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) >= 5 and word[-3] != "e":
        word = _undouble(word[:-2])
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def _undouble(stem: str) -> str:
    """`fitt` -> `fit`, `weld` stays: a doubled last consonant left by -ing or -ed."""
    if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeioulsz":
        return stem[:-1]
    return stem


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def terms(text: str) -> list[str]:
    """The text's terms in order (repeats kept): see the module's docstring for the rules."""
    out: list[str] = []
    for match in _WORD.finditer(_fold(text)):
        word = match.group()
        parts = re.split(r"[-/]", word)
        if len(parts) > 1:
            out += _word_terms(parts)
            joined = "".join(parts)
            if joined.isalpha() or not any(p.replace(".", "").isdigit() for p in parts):
                out.append(_stem(joined))  # flux-cored -> fluxcored, h/m -> hm; 25-32 stays two numbers
        else:
            out += _word_terms(parts)
    return out


def _word_terms(parts: Iterable[str]) -> list[str]:
    out = []
    for part in parts:
        unit = _NUMBER_UNIT.match(part)
        if unit and unit.group(2) in _UNITS:  # 14mm -> 14 mm (a one-letter unit says nothing alone)
            out += [unit.group(1)] + ([unit.group(2)] if len(unit.group(2)) > 1 else [])
        elif part and part not in STOP_WORDS and (len(part) > 1 or part.isdigit()):
            out.append(_stem(part))
    return out


def term_index(term: str) -> int:
    """The term's dimension: a stable 31-bit hash (the same in every process and release)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def document_vector(fields: Sequence[tuple[str, float]]) -> tuple[list[int], list[float]]:
    """(indices, values) of a document made of weighted fields, e.g. `[(title, 0.5), (heading, 2.0), (body, 1.0)]`.

    Each field's value for a term is BM25's saturated term frequency (a body's normalised by its length, a short
    field's not); a term's value is the weighted sum over fields. A heading says what its section is about, so it
    weighs more than the body; a document's title is shared by all its sections, so it weighs less.
    """
    weights: dict[int, float] = {}
    for position, (text, weight) in enumerate(fields):
        counts = Counter(terms(text))
        body = position == len(fields) - 1
        norm = K1 * (1 - B + B * sum(counts.values()) / AVG_LEN) if body else K1
        for term, tf in counts.items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + weight * tf * (K1 + 1) / (tf + norm)
    ordered = sorted(weights)
    return ordered, [weights[i] for i in ordered]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: 1 per distinct term (Qdrant multiplies in each term's IDF)."""
    ordered = sorted({term_index(t) for t in terms(text)})
    return ordered, [1.0] * len(ordered)
