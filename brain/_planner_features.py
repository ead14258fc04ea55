"""What a question says for each intent, as named numbers the offline planner's learned weights score.

A feature belongs to one (question, intent) pair; the planner scores intent i as the sum of weight x value over the
features of (question, i) and picks the highest. Three kinds:

- **cues** (`cue:<intent>:<n>`, one weight each): the n-th cue pattern of `brain._planner_examples.CUES` for that
  intent matches the question (1) or not (absent).
- **per-intent evidence** (`bias:<intent>`, `entity:<condition>:<intent>`): what the entities say about one of the
  planner's own intents (a duration with a resource is a what-if, a percentage an inspection budget, ...).
- **shared** (`cues`, `vote`, `similarity`, `runs`, `uncued_bare`, one weight for every intent): how many of the
  intent's cues match (so a cue the development cases never use still counts as a typical cue, its own weight
  being a deviation from that), the intent's share of the similarity vote over the catalogue, its best
  similarity, whether its tool gets its arguments from the question, and "the question names nothing and no cue
  speaks for the intent".
- **a new tool's** (`new:bias`, `new:vote`, `new:similarity`, `new:words`, `new:runs`, `new:bare`, one weight each
  for every intent the weights were not fitted for): a tool added later has no cue and no evidence of its own, so
  its intent is placed by its example phrasings (their similarity, and the share of the question's words they use:
  its phrasings' words are its cue words) and by whether the question gives its tool what it needs, without a
  refit. These weights are fitted by treating each tool's intent in turn as if it were new (`brain._planner_fit`).

The "unknown" intent has its own evidence (`unknown:no_cue`, `unknown:best`: no cue matched at all, and the best
similarity to any phrasing), which replaces the hand-set similarity thresholds of earlier versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from brain._planner_examples import ADOPT_THAT, CUES, EXAMPLES, YARD_TOPIC
from brain.plan import Entities
from knowledge.documents import Embedder

__all__ = [
    "CUE_NAMES",
    "ROLE_WORDS",
    "RULES",
    "NEW",
    "SHARED",
    "Catalogue",
    "QuestionFeatures",
    "Similarity",
    "features",
    "fill",
    "masked",
    "placeholders",
    "for_similarity",
    "spelled",
]

RunsFn = Callable[[str, Entities, str], bool]
"""(intent, entities, question) -> whether the intent's tool gets its arguments from them."""

SHARED: Final = ("cues", "vote", "similarity", "runs", "uncued_bare")
"""Features with one weight for every intent the weights were fitted for."""
NEW: Final = ("new:bias", "new:vote", "new:similarity", "new:words", "new:runs", "new:bare")
"""The features of a new tool's intent (one the weights were not fitted for), one weight each for every such
intent: it has no cues and no evidence of its own, only its example phrasings and what its tool needs."""
_TOP_K: Final = 7
"""Neighbours in the similarity vote."""


def _cue_names() -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for intent, _ in CUES:
        names.append(f"cue:{intent}:{seen.get(intent, 0)}")
        seen[intent] = seen.get(intent, 0) + 1
    return names


CUE_NAMES: Final[tuple[str, ...]] = tuple(_cue_names())
"""One name per entry of CUES, in order: `cue:<intent>:<n>`."""
RULES: Final[tuple[tuple[str, str, re.Pattern[str]], ...]] = tuple(
    (intent, name, re.compile(pattern)) for (intent, pattern), name in zip(CUES, CUE_NAMES, strict=True)
)
"""(intent, feature name, compiled pattern) per cue."""

_DISRUPTION: Final = re.compile(
    r"\b(down|late|later|delayed|delay|slips?|slipping|behind|broken|breaks? down|fails?|failure|unavailable"
    r"|out of (service|action|order|use)|out\b|outage|closed|closes|shut|stops?|stopped|maintenance|overhaul"
    r"|blocked|postponed?|pushed back|held up|arriv\w*|offline|lose|lost|what if|what happens|suppose|simulat\w*"
    r"|scenario|if)\b"
)
_YARD_TOPIC: Final = re.compile(YARD_TOPIC)
_ADOPT_THAT: Final = re.compile(ADOPT_THAT)
_NEEDS_SUBJECT: Final = ("lookup", "upstream", "downstream", "weld_risk", "ndt_plan", "hours", "outfitting")
"""Intents that cannot run on a question that names no code or zone."""
ROLE_WORDS: Final[dict[str, str]] = {
    "block": "the block",
    "assembly": "the assembly",
    "sub_assembly": "the sub-assembly",
    "part": "the part",
    "joint": "the joint",
    "outfitting_item": "the item",
    "work_package": "the work package",
    "resource": "the machine",
    "zone": "the zone",
}
"""What a named thing of each role reads as for similarity: codes carry no meaning, their role does."""
_OTHER_KIND: Final = "the unit"
"""What a thing of a kind with no role reads as."""
_PLACEHOLDER: Final = re.compile(r"<(" + "|".join(ROLE_WORDS) + r")>")
"""A role placeholder in an example phrasing ("what is upstream of <block>"): examples name no yard's codes."""
_ONE_THING: Final = frozenset({"part", "joint", "outfitting_item", "work_package"})
"""Kinds whose hours are one thing's, not a sum over many joints or items."""
# how long something takes, without asking how likely it goes wrong
_TIME: Final = re.compile(r"\b(hours?|hrs?|how long|how much time|time|take|takes|man-?hours|effort|duration)\b")
_RISK: Final = re.compile(r"\b(risk\w*|defect\w*|probab\w*|chances?|likel\w*|odds|fail\w*|repairs?|quality|crack\w*)\b")
_LONG_WORD: Final = re.compile(r"[a-z]{5,}")
_CUE_WORD: Final = re.compile(r"[a-z]{5,}(?![(\[])")


def _vocabulary() -> tuple[frozenset[str], dict[str, str | None]]:
    """The words the cues and the catalogue use, and each one-letter-short misspelling of them (None: ambiguous)."""
    # a stem before an optional ending ("dependenc(y|ies)") is not a word: "dependency" must not be cut to it
    words = {w for _, cue in CUES for w in _CUE_WORD.findall(cue)}
    words |= {w for phrases in EXAMPLES.values() for p in phrases for w in _LONG_WORD.findall(p.lower())}
    short: dict[str, str | None] = {}
    for word in sorted(words):
        for i in range(len(word)):
            typo = word[:i] + word[i + 1 :]
            if typo not in words:
                short[typo] = word if short.get(typo, word) == word else None
    return frozenset(words), short


_WORDS, _SHORT_OF = _vocabulary()


def _respelled(match: re.Match[str]) -> str:
    word = match.group(0)
    lower = word.lower()
    if lower in _WORDS:
        return word
    # a letter dropped ("predecesors") or one too many ("untill"); a swapped letter could turn "table" into "cable"
    found = {lower[:i] + lower[i + 1 :] for i in range(len(lower))} & _WORDS
    longer = _SHORT_OF.get(lower)
    if longer is not None:
        found.add(longer)
    return found.pop() if len(found) == 1 else word


def spelled(question: str) -> str:
    """The question with a word that is one letter off a cue or catalogue word spelled as that word.

    Only words of six letters or more: shorter ones are too often another real word ("lunch", "launch").
    """
    return re.sub(r"[A-Za-z]{6,}", _respelled, question)


def for_similarity(text: str) -> str:
    """An example phrasing with its role placeholders read as their role ("<block>" -> "the block")."""
    return _PLACEHOLDER.sub(lambda m: ROLE_WORDS[m.group(1)], text)


def masked(question: str, entities: Entities) -> str:
    """The question with each code, resource and zone it names replaced by its role ("B012-A03" -> "the assembly")."""
    out: list[str] = []
    at = 0
    for start, end, role in entities.spans:
        if start < at:
            continue
        out.append(question[at:start])
        out.append(ROLE_WORDS.get(role, _OTHER_KIND))
        at = end
    out.append(question[at:])
    return "".join(out)


def fill(phrasing: str, codes: Mapping[str, str]) -> str | None:
    """An example phrasing with each placeholder filled by a code of its role (`codes`: role -> code).

    None when a placeholder's role has no code.
    """
    missing = [m.group(1) for m in _PLACEHOLDER.finditer(phrasing) if m.group(1) not in codes]
    if missing:
        return None
    return _PLACEHOLDER.sub(lambda m: codes[m.group(1)], phrasing)


def placeholders(phrasing: str) -> list[str]:
    """The roles an example phrasing's placeholders stand for, in order."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(phrasing)]


@dataclass(frozen=True)
class Catalogue:
    """Example phrasings per intent, embedded once: what the similarity vote and the best similarity read."""

    embedder: Embedder
    labels: tuple[str, ...]
    """The intent of each phrasing, in the order of `vectors`' rows."""
    vectors: npt.NDArray[np.float32]
    """Unit vectors, one row per phrasing."""
    words: dict[str, frozenset[str]]
    """intent -> the words of five letters or more its phrasings use."""

    @classmethod
    def build(cls, embedder: Embedder, examples: Mapping[str, Sequence[str]]) -> Catalogue:
        """Embed every phrasing (codes replaced by their kind), each (intent, phrasing) pair once."""
        pairs = list(dict.fromkeys((intent, p) for intent, phrases in examples.items() for p in phrases))
        vectors = embedder.embed([for_similarity(p) for _, p in pairs])
        words: dict[str, set[str]] = {}
        for intent, p in pairs:
            words.setdefault(intent, set()).update(_LONG_WORD.findall(p.lower()))
        return cls(embedder, tuple(intent for intent, _ in pairs), vectors, {i: frozenset(w) for i, w in words.items()})

    def similarity(self, question: str) -> tuple[dict[str, float], dict[str, float], float]:
        """How close the question (its codes masked: `masked`; spelled: `spelled`) is to the catalogue.

        Returns:
            The top-k vote (each intent's share of its neighbours' similarity), each intent's best similarity, and
            the best similarity to any phrasing.
        """
        scores = (self.vectors @ self.embedder.embed([question])[0]).astype(np.float64)
        top = np.argsort(-scores, kind="stable")[:_TOP_K]
        votes: dict[str, float] = {}
        for index in top:
            votes[self.labels[index]] = votes.get(self.labels[index], 0.0) + max(float(scores[index]), 0.0)
        total = sum(votes.values()) or 1.0
        best: dict[str, float] = {}
        for label, score in zip(self.labels, scores.tolist(), strict=True):
            best[label] = max(best.get(label, -1.0), score)
        return {i: v / total for i, v in votes.items()}, best, float(scores[top[0]])


@dataclass(frozen=True)
class QuestionFeatures:
    """A question's features per intent, and what the planner reports about them."""

    per_intent: dict[str, dict[str, float]]
    """intent -> feature name -> value (absent: 0)."""
    cued: tuple[str, ...]
    """The intents a cue spoke for, in cue order (repeats kept)."""
    cue_hits: tuple[str, ...]
    """The names of the cues that matched."""
    best: float
    """The best similarity to any catalogue phrasing."""


def _what_is_named(e: Entities, q: str) -> dict[str, tuple[str, ...]]:
    """Conditions on what the codes and factors are: a factor is a what-if's; one joint has a risk, not a choice.

    The time one part, joint, item or work package takes, asked without its risk, is its hours, not its welding's
    risk or its outfitting's stage ("how long to weld J030-002001?").
    """
    held: dict[str, tuple[str, ...]] = {}
    if e.welding_factor is not None or e.rework_factor is not None:
        # its own weight too: a factor is said in a what-if only, however much the question speaks of welds or rework
        held["factor"] = ("whatif", "adopt", "weld_risk", "outfitting", "hours")
    kinds = {r if r in ("joint", "outfitting_item") else "other" for r in e.roles}
    if kinds == {"joint"}:
        held["joint"] = ("ndt_plan", "weld_risk", "outfitting")  # one weld: its risk, nothing to choose among
    elif kinds == {"outfitting_item"}:
        held["item"] = ("weld_risk", "ndt_plan", "outfitting")  # an outfitting item has no welds
    one = bool(e.roles) and all(r in _ONE_THING for r in e.roles)
    if one and _TIME.search(q) and not _RISK.search(q) and e.welding_factor is None and e.rework_factor is None:
        held["one_thing_time"] = ("hours", "weld_risk", "outfitting")
    return held


def _conditions(e: Entities, q: str, cued: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Entity conditions that hold, each with the intents it is evidence about (for or against: the fit decides).

    A duration with a resource or a late code is a scenario, and so is a factor on welding or rework: a what-if, or
    an adoption when the question asks to adopt it (and without a scenario neither can run). A budget (a share, hours
    or joints) is an inspection's, a zone outfitting. A question that names no code, no zone and no resource can only
    be about documents when it uses document words.
    """
    held: dict[str, tuple[str, ...]] = {}
    code = bool(e.codes)
    scenario = e.days is not None and (e.resource is not None or (code and _DISRUPTION.search(q) is not None))
    # a cross-model what-if: welding takes longer, rework grows (the entities only find these in a what-if)
    scenario = scenario or e.welding_factor is not None or e.rework_factor is not None
    if scenario:
        held["scenario"] = ("whatif", "downstream", "schedule")
        if "adopt" in cued:
            held["scenario_adopt"] = ("adopt",)
    elif e.zone is None and _ADOPT_THAT.search(q):
        # "adopt it", "commit that scenario": the what-if is the thread's last one (or the planner asks which)
        held["adopt_that"] = ("adopt", "whatif")
    else:
        held["no_scenario"] = ("whatif", "adopt")
    held |= _what_is_named(e, q)
    if e.resource is not None and not code:
        held["resource_alone"] = ("schedule",)
    if e.budget is not None or e.budget_hours is not None or e.budget_joints is not None:
        held["budget"] = ("ndt_plan",)  # a share, hours or a number of joints: what an inspection may spend
    if e.zone is not None:
        held["zone"] = ("outfitting",)
    if code or e.zone is not None:
        held["subject"] = ("procedure",)
    elif e.resource is None and not _YARD_TOPIC.search(q):
        held["off_topic"] = ("procedure",)  # nothing a yard document covers: a how-to about something else
    elif "procedure" in cued:
        held["how_to"] = _NEEDS_SUBJECT  # with no code or zone these cannot run: a document answers instead
    return held


Similarity = tuple[dict[str, float], dict[str, float], float]
"""`Catalogue.similarity` of a question: the vote, each intent's best similarity, the best overall."""


def features(
    question: str,
    entities: Entities,
    catalogue: Catalogue,
    intents: Sequence[str],
    runs: RunsFn,
    builtin: frozenset[str],
    similar: Similarity | None = None,
) -> QuestionFeatures:
    """Every intent's features for a question.

    Args:
        question: the question, as asked.
        entities: the entities to reason with (a follow-up's include the previous question's).
        catalogue: the embedded example phrasings.
        intents: every intent the planner can place, "unknown" included.
        runs: whether an intent's tool gets its arguments from the entities and the question.
        builtin: the intents the weights were fitted for (cues, bias, entity evidence and the shared features);
            any other is a new tool's and gets the `new:` features only.
        similar: the question's similarity to the catalogue, when already known.
    """
    said = spelled(question)
    q = said.lower()
    per_intent: dict[str, dict[str, float]] = {intent: {} for intent in intents}
    cued: list[str] = []
    hits: list[str] = []
    for intent, name, cue in RULES:
        if intent in per_intent and intent in builtin and cue.search(q):
            per_intent[intent][name] = 1.0
            per_intent[intent]["cues"] = per_intent[intent].get("cues", 0.0) + 1.0
            cued.append(intent)
            hits.append(name)
    for condition, about in _conditions(entities, q, cued).items():
        for intent in about:
            if intent in per_intent and intent in builtin:
                per_intent[intent][f"entity:{condition}:{intent}"] = 1.0
    votes, best_of, best = catalogue.similarity(spelled(masked(question, entities))) if similar is None else similar
    bare = not entities.codes and entities.zone is None and entities.resource is None
    for intent, values in per_intent.items():
        own = intent in builtin
        new = "" if own else "new:"
        values[f"bias:{intent}" if own else "new:bias"] = 1.0
        values[f"{new}vote"] = votes.get(intent, 0.0)
        values[f"{new}similarity"] = best_of.get(intent, 0.0)
        if intent == "unknown":
            values["unknown:no_cue"] = 0.0 if cued else 1.0
            values["unknown:best"] = best
            continue
        values[f"{new}runs"] = 1.0 if runs(intent, entities, question) else 0.0
        if not own:
            said_words = set(_LONG_WORD.findall(q))
            values["new:words"] = len(said_words & catalogue.words.get(intent, frozenset())) / max(len(said_words), 1)
        values["uncued_bare" if own else "new:bare"] = 1.0 if bare and intent not in cued else 0.0
    return QuestionFeatures(per_intent, tuple(cued), tuple(hits), best)
