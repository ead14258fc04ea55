"""The offline planner: no LLM, exact entities, intents by rule and by embedding similarity for paraphrases.

The first round maps the question to one tool step from its intent and entities. Later rounds look at
the results: a question that asks to adopt a what-if first simulates it (`what_if`), and only when that
worked proposes the change (`adopt_plan`, which the supervisor puts to a person); every other question
is done after its first step. A question it cannot place, or one that lacks what its intent needs (a
code, a duration), gets no steps and a reason, never a guess.

In a conversation the supervisor passes the thread's previous question as `context` (its question, intent,
entities, the args of its last what-if and its answer). Only a question that reads as a follow-up uses it ("and
for B013?", "how about a week?", "when is it erected?", "adopt it"): it takes the previous intent when it names
a new entity but asks nothing of its own, and the previous block, assembly, zone or resource when it names none.
"Adopt it" adopts the thread's last what-if, and with none asks which one rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, get_args

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from brain._planner_examples import ADOPT_THAT, CUES, EXAMPLES, YARD_TOPIC
from brain.plan import INTENTS, Entities, Intent, Plan, Step, extract_entities
from brain.tools import ToolResult
from knowledge.documents import Embedder

__all__ = ["EXAMPLES", "RULES", "OfflinePlanner"]

_DISRUPTION: Final = (
    r"\b(down|late|later|delayed|delay|slips?|slipping|behind|broken|breaks? down|fails?|failure|unavailable"
    r"|out of (service|action|order|use)|out\b|outage|closed|closes|shut|stops?|stopped|maintenance|overhaul"
    r"|blocked|postponed?|pushed back|held up|arriv\w*|offline|lose|lost|what if|what happens|suppose|simulat\w*"
    r"|scenario|if)\b"
)
_YARD_TOPIC: Final = re.compile(YARD_TOPIC)
_ADOPT_THAT: Final = re.compile(ADOPT_THAT)
# Every cue that matches adds its weight to its intent; none decides alone (see brain._planner_examples.CUES).
RULES: Final[list[tuple[Intent, float, re.Pattern[str]]]] = [(i, w, re.compile(p)) for i, w, p in CUES]
_VOTE_WEIGHT: Final = 2.5
"""The most the similarity vote adds to one intent; a strong cue word counts 2."""
_TOP_K: Final = 7
_MIN_SIMILARITY: Final = 0.45
"""Below this, a question no cue speaks for is unknown."""
_MIN_SIMILARITY_ALONE: Final = 0.65
"""Below this, a question that names nothing (no code, zone or resource) needs a cue word for the intent it gets."""
_ALL_INTENTS: Final[tuple[Intent, ...]] = get_args(Intent)
_NEEDS_CODE: Final[set[Intent]] = {"lookup", "upstream", "downstream", "weld_risk", "ndt_plan", "hours"}
# A schedule question about one unnamed block ("when will it be erected?"): it needs the block's code.
_ONE_BLOCK: Final = re.compile(r"\b(it|this|that|this one|that one)\b.*\b(erect\w*|dock\w*|berth\w*|land\w*|lift\w*)\b")
_KIND_WORDS: Final = (
    (re.compile(r"\bB\d{1,3}-A\d{1,2}-S\d{1,2}-P\d{1,4}\b", re.I), "the part"),
    (re.compile(r"\bB\d{1,3}-A\d{1,2}-S\d{1,2}\b", re.I), "the sub-assembly"),
    (re.compile(r"\bB\d{1,3}-A\d{1,2}\b", re.I), "the assembly"),
    (re.compile(r"\bWP-B\d{1,3}-\w+\b", re.I), "the work package"),
    (re.compile(r"\bB\d{1,3}\b", re.I), "the block"),
    (re.compile(r"\bJ\d{1,3}-\d{1,6}\b", re.I), "the joint"),
    (re.compile(r"\bO\d{1,3}-\d{1,5}\b", re.I), "the item"),
    (re.compile(r"\bMVZ[\s-]?\d{1,2}[\s-]?L\d{1,2}\b", re.I), "the zone"),
    (re.compile(r"\b(PL|WS|OH|GC|DOCK)-?\d{1,2}\b", re.I), "the machine"),
)


# A question that leans on the one before: it starts like a continuation or points back with a pronoun.
_FOLLOW_UP: Final = re.compile(
    r"^\W*(and|also|plus|same|ok|okay|now|then|but|so|what about|how about|what of|likewise|again)\b"
    r"|\b(it|its|it's|itself|same|also|too|as well|instead|again|this one|that one|them|their|they)\b"
    r"|\b(that|this|these|those) (block|assembly|sub-?assembly|part|joint|item|work package|zone|scenario|what-?if"
    r"|code|one|machine|resource)s?\b|\b(that|this)\W*$",
    re.IGNORECASE,
)
# "same for the dock": in a follow-up of a what-if the dock is the resource, whatever is said of it
_DOCK_NAMED: Final = re.compile(r"\b(?:(?:building|dry|graving)[\s-]*)?dock(?:\s*(\d))?\b", re.IGNORECASE)
_SUBJECTS: Final = ("codes", "zone", "resource")
_MODIFIERS: Final = ("budget", "days", "start_day", "start_date")
_OWN_CUE: Final = 1.2
"""A follow-up asks something of its own when a cue of at least this weight speaks for the intent it gets."""
_WHICH_WHAT_IF: Final = "which what-if? ask one first, e.g. 'if panel line 2 is down 3 days ...'"

_LONG_WORD: Final = re.compile(r"[a-z]{5,}")
_CUE_WORD: Final = re.compile(r"[a-z]{5,}(?![(\[])")


def _vocabulary() -> tuple[frozenset[str], dict[str, str | None]]:
    """The words the cues and the catalogue use, and each one-letter-short misspelling of them (None: ambiguous)."""
    # a stem before an optional ending ("dependenc(y|ies)") is not a word: "dependency" must not be cut to it
    words = {w for _, _, cue in CUES for w in _CUE_WORD.findall(cue)}
    words |= {w for phrases in EXAMPLES.values() for p in phrases for w in _LONG_WORD.findall(p.lower())}
    short: dict[str, str | None] = {}
    for word in words:
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


def _spelled(question: str) -> str:
    """The question with a word that is one letter off a cue or catalogue word spelled as that word.

    Only words of six letters or more: shorter ones are too often another real word ("lunch", "launch").
    """
    return re.sub(r"[A-Za-z]{6,}", _respelled, question)


def _for_similarity(text: str) -> str:
    """The question with yard codes replaced by their kind ("B012-A03" -> "the assembly"): codes carry no meaning."""
    for pattern, words in _KIND_WORDS:
        text = pattern.sub(words, text)
    return text


def _entity_evidence(e: Entities, q: str, cued: list[Intent]) -> dict[Intent, float]:
    """What the entities say about the intent.

    A duration with a resource or a late code is a scenario: a what-if, or an adoption when the question asks to
    adopt it (and without a scenario neither can run). A percentage is an inspection budget, a zone outfitting. A
    question that names no code, no zone and no resource can only be about documents when it uses document words.
    """
    score: dict[Intent, float] = dict.fromkeys(_ALL_INTENTS, 0.0)
    code = bool(e.codes)
    scenario = e.days is not None and (e.resource is not None or (code and re.search(_DISRUPTION, q) is not None))
    if scenario:
        score["whatif"] += 3.0
        score["adopt"] += 4.0 if "adopt" in cued else 0.0
        score["downstream"] -= 1.5
        score["schedule"] -= 1.5  # "what happens to the schedule" asks how the scenario changes it
    elif e.zone is None and _ADOPT_THAT.search(q):
        # "adopt it", "commit that scenario": the what-if is the thread's last one (or the planner asks which)
        score["adopt"] += 3.0
        score["whatif"] -= 2.0
    else:
        score["whatif"] -= 2.0
        score["adopt"] -= 2.5
    if e.resource is not None and not code:
        score["schedule"] -= 1.0
    if e.budget is not None:
        score["ndt_plan"] += 3.0
    if e.zone is not None:
        score["outfitting"] += 3.0
    if code or e.zone is not None:
        score["procedure"] -= 4.0
    elif e.resource is None and not _YARD_TOPIC.search(q):
        score["procedure"] -= 2.5  # nothing a yard document covers: a how-to about something else
    elif "procedure" in cued:
        for intent in (*_NEEDS_CODE, "outfitting"):
            score[intent] -= 3.0  # with no code or zone these cannot run: a document answers instead
    return score


class OfflinePlanner:
    """Turns a question into a `Plan` without any LLM; says plainly when it cannot place a question."""

    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._examples: tuple[list[Intent], npt.NDArray[np.float32]] | None = None

    def _catalogue(self) -> tuple[Embedder, list[Intent], npt.NDArray[np.float32]]:
        """The embedder and the catalogue's embeddings, computed once per planner."""
        if self._examples is None or self._embedder is None:
            from knowledge.documents import WordLlamaEmbedder

            self._embedder = WordLlamaEmbedder()
            labels = [intent for intent, phrases in EXAMPLES.items() for _ in phrases]
            phrases = [_for_similarity(p) for ps in EXAMPLES.values() for p in ps]
            self._examples = (labels, self._embedder.embed(phrases))
        labels, vectors = self._examples
        return self._embedder, labels, vectors

    def _similar(self, question: str) -> tuple[dict[Intent, float], float]:
        """A top-k vote over the catalogue (each intent's share of the neighbours' similarity) and the best score."""
        embedder, labels, vectors = self._catalogue()
        scores = vectors @ embedder.embed([_for_similarity(question)])[0]
        top = np.argsort(-scores)[:_TOP_K]
        votes: dict[Intent, float] = {}
        for index in top:
            votes[labels[index]] = votes.get(labels[index], 0.0) + max(float(scores[index]), 0.0)
        total = sum(votes.values()) or 1.0
        return {intent: vote / total for intent, vote in votes.items()}, float(scores[top[0]])

    def scores(
        self, question: str, entities: Entities | None = None
    ) -> tuple[dict[Intent, float], float, list[Intent], Entities]:
        """Every intent's score (cues + entities + similarity vote).

        Args:
            question: the question.
            entities: the entities to reason with (a follow-up's include the previous question's); None: the
                question's own.

        Returns:
            The scores, the best similarity to a catalogue phrasing, the intents a cue spoke for, and the entities.
        """
        entities = extract_entities(question) if entities is None else entities
        question = _spelled(question)
        q = question.lower()
        score: dict[Intent, float] = dict.fromkeys(_ALL_INTENTS, 0.0)
        cued: list[Intent] = []
        for intent, weight, cue in RULES:
            if cue.search(q):
                score[intent] += weight
                cued.append(intent)
        for intent, weight in _entity_evidence(entities, q, cued).items():
            score[intent] += weight
        votes, best = self._similar(question)
        for intent, vote in votes.items():
            score[intent] += _VOTE_WEIGHT * vote
        return score, best, cued, entities

    def classify(self, question: str, entities: Entities | None = None) -> tuple[Intent, float, str]:
        """(intent, confidence, reason) of a question, "unknown" when nothing places it."""
        score, best, cued, e = self.scores(question, entities)
        ranked = sorted(score.items(), key=lambda kv: -kv[1])
        (intent, top), (runner_up, second) = ranked[0], ranked[1]
        if not cued and best < _MIN_SIMILARITY:
            return "unknown", 0.0, f"no cue word and the closest phrasing scored {best:.2f}"
        bare = not e.codes and e.zone is None and e.resource is None
        if bare and intent not in cued and best < _MIN_SIMILARITY_ALONE:
            # nothing in the question but a loose resemblance: schedule and procedure would still run, on a guess
            return "unknown", 0.0, f"no cue word for {intent} and the closest phrasing scored only {best:.2f}"
        if intent == "unknown" or top <= 0:
            return "unknown", 0.0, f"closest to questions outside the yard (similarity {best:.2f})"
        confidence = float(min(1.0, max(0.0, (top - max(second, 0.0)) / max(top, 1e-9))))
        return intent, confidence, f"scored {top:.2f} ahead of {runner_up} {second:.2f} (cues, entities, similarity)"

    def plan(
        self,
        question: str,
        results: list[ToolResult] | None = None,
        previous: Plan | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Plan:
        """The next plan for a question, given the results so far (none on the first round).

        Args:
            question: the question, as asked.
            results: the tool results of this question so far.
            previous: the plan of the round before (None on the first round).
            context: the thread's previous question (`question`, `intent`, `entities`, `what_if`: the args of its
                last what-if or None, `answer`); only a follow-up uses it. None in a new thread.
        """
        if previous is not None and results:
            return self._next(previous, results)
        entities = extract_entities(question)
        intent, confidence, reason = self.classify(question)
        earlier = _earlier(context) if context is not None and _FOLLOW_UP.search(question) else None
        # a how-to stays one ("how do we weld it?"): the documents answer it, whatever the last question was about
        if earlier is not None and intent not in ("adopt", "procedure"):
            intent, confidence, reason, entities = self._follow_up(question, entities, earlier)
        if intent == "unknown":
            return _unknown(entities, reason)
        if intent == "adopt":
            return _adopt(entities, (context or {}).get("what_if"), confidence, reason, question)
        if intent == "schedule" and not entities.codes and _ONE_BLOCK.search(question.lower()):
            return _unknown(entities, "which block? an erection date needs a block code such as B012")
        step, missing = _first_step(intent, entities, question)
        if step is None:
            return _unknown(entities, missing)
        intent = "procedure" if step.tool == "search_documents" else intent
        return Plan(intent=intent, entities=entities, steps=[step], confidence=confidence, reason=reason)

    def _follow_up(
        self, question: str, entities: Entities, earlier: tuple[Intent, Entities]
    ) -> tuple[Intent, float, str, Entities]:
        """A follow-up's intent and entities, from its own words and the previous question's.

        It keeps the previous intent when it names something new (a code, a duration) but asks nothing of its own
        ("and for B013?", "how about a week?"); it takes the previous subject (codes, zone, resource) when it names
        none and its intent needs one ("and its NDT plan?"); durations and budgets carry over within one intent.
        """
        before_intent, before = earlier
        if before_intent in ("whatif", "adopt") and entities.resource is None:
            dock = _DOCK_NAMED.search(question)
            if dock is not None:
                entities = entities.model_copy(update={"resource": f"DOCK-{int(dock.group(1) or 1)}"})
        own_subject = bool(entities.codes) or entities.zone is not None or entities.resource is not None
        subject = {k: getattr(entities if own_subject else before, k) for k in _SUBJECTS}
        merged = entities.model_copy(update=subject)
        intent, confidence, reason = self.classify(question, merged)
        names_new = own_subject or any(getattr(entities, k) is not None for k in _MODIFIERS)
        q = _spelled(question).lower()
        asked = sum(w for i, w, cue in RULES if i == intent and cue.search(q))
        if names_new and asked < _OWN_CUE and before_intent not in ("unknown", "procedure"):
            # "adopt it" proposes a change: a follow-up of one only asks the what-if again
            intent = "whatif" if before_intent == "adopt" else before_intent
            confidence, reason = 0.5, f"a follow-up of the previous {before_intent} question"
        if intent == "unknown":
            return intent, confidence, reason, entities
        if not own_subject and (intent in (*_NEEDS_CODE, "outfitting", "whatif") or _ONE_BLOCK.search(q)):
            entities = merged
        if intent == before_intent or (intent == "whatif" and before_intent == "adopt"):
            carried = {k: getattr(before, k) for k in _MODIFIERS if getattr(entities, k) is None}
            entities = entities.model_copy(update=carried)
        return intent, confidence, reason, entities

    @staticmethod
    def _next(previous: Plan, results: list[ToolResult]) -> Plan:
        last = results[-1]
        if previous.intent == "adopt" and last.tool == "what_if" and last.error is None:
            step = Step(tool="adopt_plan", args=dict(last.args))
            return previous.model_copy(update={"steps": [step], "reason": "the what-if ran; propose adopting it"})
        return previous.model_copy(update={"steps": []})


def _earlier(context: Mapping[str, Any]) -> tuple[Intent, Entities] | None:
    """The previous question's intent and entities, None when the context holds none that can be read."""
    intent = context.get("intent")
    if intent not in _ALL_INTENTS:
        return None
    try:
        entities = Entities.model_validate(context.get("entities") or {})
    except ValidationError:  # a context from another version of the plan: treat the question as a new one
        return None
    return intent, entities


def _adopt(e: Entities, what_if: Any, confidence: float, reason: str, question: str) -> Plan:
    """An adoption: simulate the question's scenario, else the thread's last what-if, else ask which one."""
    step, missing = _first_step("adopt", e, question)
    if step is not None:
        return Plan(intent="adopt", entities=e, steps=[step], confidence=confidence, reason=reason)
    last = dict(what_if) if isinstance(what_if, Mapping) else None
    names = e.resource is not None or bool(e.codes)
    if last is not None and (not names or last.get("resource") == e.resource or last.get("code") in e.codes):
        # what the question does say overrides the last what-if ("adopt it, but for 5 days")
        for key in ("days", "start_day"):
            if getattr(e, key) is not None:
                last[key] = getattr(e, key)
        if e.start_date is not None:
            last["start_date"] = e.start_date.isoformat()
        step = Step(tool="what_if", args=last)
        return Plan(intent="adopt", entities=e, steps=[step], confidence=confidence, reason="adopt the last what-if")
    if not names:
        return Plan(intent="adopt", entities=e, steps=[], confidence=confidence, reason=_WHICH_WHAT_IF)
    return _unknown(e, missing)


def _unknown(entities: Entities, why: str) -> Plan:
    return Plan(intent="unknown", entities=entities, steps=[], confidence=0.0, reason=why)


def _first_step(intent: Intent, e: Entities, question: str) -> tuple[Step | None, str]:
    """The first step of an intent, or None and what the question lacks."""
    code = e.codes[0] if e.codes else None
    if intent == "procedure" or (intent in _NEEDS_CODE and code is None and intent != "lookup"):
        if intent != "procedure":
            return None, f"{INTENTS[intent]} needs a code such as B012 or B012-A03"
        return Step(tool="search_documents", args={"query": question}), ""
    if intent in ("whatif", "adopt"):
        if e.resource is None and code is None:
            return None, "a what-if needs a resource (such as panel line 2) or a late code (such as B012)"
        if e.days is None:
            return None, "a what-if needs how long, such as '3 days' or 'a week'"
        args: dict[str, Any] = {
            "resource": e.resource,
            "code": None if e.resource else code,
            "days": e.days,
            "start_day": e.start_day,
            "start_date": e.start_date.isoformat() if e.start_date else None,
        }
        return Step(tool="what_if", args=args), ""
    if intent == "schedule":
        return Step(tool="erection_schedule", args={"code": code}), ""
    if intent == "outfitting":
        if code is None and e.zone is None:
            return None, f"{INTENTS[intent]} needs a block, an assembly or a zone such as MVZ3-L1"
        return Step(tool="outfitting", args={"code": None if e.zone else code, "zone": e.zone}), ""
    if code is None:
        return None, f"{INTENTS[intent]} needs a code such as B012 or B012-A03"
    if intent == "hours":
        return Step(tool="predicted_hours", args={"codes": e.codes}), ""
    if intent == "ndt_plan":
        return Step(tool="ndt_plan", args={"code": code, "budget": e.budget or 0.1}), ""
    return Step(tool=intent, args={"code": code}), ""
