"""The offline planner: no LLM, exact entities, intents scored by learned weights over cues, entities and similarity.

The first round maps the question to one tool step from its intent and entities. Later rounds look at
the results: a question that asks to adopt a what-if first simulates it (`what_if`), and only when that
worked proposes the change (`adopt_plan`, which the supervisor puts to a person); every other question
is done after its first step. A question it cannot place, or one that lacks what its intent needs (a
code, a duration), gets no steps and a reason, never a guess.

Each intent's score is the sum of learned weights over the question's features for it (`brain._planner_features`:
cue words, entity evidence, the similarity vote over example phrasings); the highest wins, "unknown" included, and
the confidence is its softmax probability. The weights are fitted at build time from the development cases
(`python -m brain._planner_fit` writes `planner_weights.json`); at run time they are only read.

The intents are the planner's own ("adopt", "unknown") and those of the registered tools that can say what a
question gives them (`args_from`); a tool's example phrasings join the catalogue the similarity vote reads, so a
new tool's questions are placed by its examples and its entities, with no refit.

In a conversation the supervisor passes the thread's previous question as `context` (its question, intent,
entities, the args of its last what-if and its answer). Only a question that reads as a follow-up uses it ("and
for B013?", "how about a week?", "when is it erected?", "adopt it"): it takes the previous intent when it names
a new entity and asks nothing clearly of its own, and the previous block, assembly, zone or resource when it names none.
"Adopt it" adopts the thread's last what-if, and with none asks which one rather than guessing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from pydantic import JsonValue, ValidationError

from brain._planner_examples import ABOUT_ME, CUES, DESTRUCTIVE, ELSEWHERE, EXAMPLES, YARD_TOPIC
from brain._planner_features import (
    ROLE_WORDS,
    RULES,
    Catalogue,
    QuestionFeatures,
    features,
    fill,
    placeholders,
    spelled,
)
from brain.plan import (
    Entities,
    Plan,
    Refusal,
    Step,
    amount_problem,
    extract_entities,
    extract_factors,
    extract_hours,
)
from brain.tools import TOOLS, ArgsFrom, ToolResult
from knowledge.documents import Embedder

if TYPE_CHECKING:
    from brain.lexicon import Names

__all__ = [
    "EXAMPLES",
    "RULES",
    "WEIGHTS_FILE",
    "IntentTool",
    "OfflinePlanner",
    "Scores",
    "cues_digest",
    "intent_tools",
    "load_weights",
    "refused_outright",
]

WEIGHTS_FILE: Final = Path(__file__).with_name("planner_weights.json")
"""The learned weights (`python -m brain._planner_fit` writes it)."""
_OWN_INTENTS: Final = ("adopt", "unknown")
"""Intents the planner handles itself: an adoption simulates a what-if first; unknown runs nothing."""


@dataclass(frozen=True)
class IntentTool:
    """What the offline planner reads of a registered tool."""

    intent: str
    """The intent whose questions the tool answers."""
    tool: str
    examples: tuple[str, ...]
    """Phrasings of the intent, added to the similarity catalogue."""
    args_from: ArgsFrom
    """The tool's arguments from a question's entities and text, or what the question lacks."""


def intent_tools() -> tuple[IntentTool, ...]:
    """The registered tools the planner can pick on its own (those with an `args_from`), by name."""
    return tuple(
        IntentTool(spec.intent, spec.name, spec.examples, spec.args_from)
        for _, spec in TOOLS.items()
        if spec.args_from is not None and spec.intent not in _OWN_INTENTS
    )


# ---- the weights ----------------------------------------------------------------------------------------------------


def cues_digest() -> str:
    """A digest of the cue patterns, in order: weights fitted for other cues must not be read as these."""
    text = "\n".join(f"{intent}\t{pattern}" for intent, pattern in CUES)
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def load_weights(path: Path = WEIGHTS_FILE) -> Mapping[str, float]:
    """The learned weights, feature name -> weight.

    Raises:
        RuntimeError: the file was fitted for other cue patterns (re-fit: `python -m brain._planner_fit`).
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["cues_sha256"] != cues_digest():
        raise RuntimeError(
            f"{path.name} was fitted for other cue patterns than brain._planner_examples.CUES; "
            "re-fit with `python -m brain._planner_fit`"
        )
    return MappingProxyType({str(name): float(weight) for name, weight in data["weights"].items()})


# ---- the planner ----------------------------------------------------------------------------------------------------

# A schedule question about one unnamed block ("when will it be erected?"): it needs the block's code.
_ONE_BLOCK: Final = re.compile(r"\b(it|this|that|this one|that one)\b.*\b(erect\w*|dock\w*|berth\w*|land\w*|lift\w*)\b")
# A question about one unnamed block or assembly ("the critical path into the block"): it needs that thing's code
_ONE_THING: Final = re.compile(
    r"\b(into|of|for|to|behind|before)\s+(the|this|that|a|one)\s+(block|assembly|sub-?assembly|work package|part"
    r"|joint|item)\b(?!['’]?s?\s+(of|in)\b)"
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
# "what is its critical path?": the previous subject, even where the tool would run without one
_POINTS_AT: Final = re.compile(
    r"\b(its|it|it's|their|them|this one|that one|the same (block|assembly|part|joint|item))\b"
)
_SUCH_AS: Final = re.compile(r",?\s*\(?such as <\w+>(?:\s+or\s+<\w+>)*\)?")
"""A tool's example of what a code looks like, in role placeholders: ", such as <block> or <assembly>"."""
_SUBJECTS: Final = ("codes", "roles", "zone", "resource")
_MODIFIERS: Final = (
    "budget",
    "days",
    "start_day",
    "start_date",
    "budget_hours",
    "budget_joints",
    "welding_factor",
    "rework_factor",
)
_CONTINUE: Final = 1.0
"""A follow-up that names something new continues the previous question's intent unless another intent scores more
than this many typical cues (the learned `cues` weight) above it: "and for B013?" and "same for the dock" continue,
"what if it is 4 days late?" after a lookup asks a what-if. The one hand-set number left: the development cases are
single questions, so nothing in them teaches how strongly a conversation leans on the question before
(tests/brain/test_planner_context.py passes from 0.75 to 2 typical cues)."""
_WHICH_WHAT_IF: Final = "which what-if? ask one first, e.g. 'if panel line 2 is down 3 days ...'"
_DESTRUCTIVE: Final = re.compile(DESTRUCTIVE)
_YARD_TOPIC: Final = re.compile(YARD_TOPIC)
_ELSEWHERE: Final = re.compile(ELSEWHERE)
_ABOUT_ME: Final = re.compile(ABOUT_ME)
_POINTS_BACK: Final = re.compile(r"\b(it|its|this|that|these|those|they|them|one)\b")
# a question whose subject is only a pronoun ("make it faster", "is it ok?"): it needs what "it" is
_ONLY_POINTS_BACK: Final = re.compile(r"\b(it|its|this|that|these|those|them)\b")
# what the planner's own questions are about besides the yard's things (YARD_TOPIC): dependencies, hours, what-ifs
_YARD_ASKS: Final = re.compile(
    r"\b(upstream|downstream|predecessors?|successors?|prerequisites?|dependenc\w*|depend\w*|makespan|critical"
    r"|man-?hours|workload|rework\w*|zones?|what-?ifs?|what if|scenarios?|hours|hrs|outages?|late|delay\w*|risk\w*"
    r"|defect\w*)\b"
)
_DESTROYED: Final = (
    "nothing was run: I cannot delete, reset or overwrite the yard's data or its plan; the plan changes only when a "
    "person approves an adopted what-if"
)
_OUTSIDE: Final = (
    "that is outside what I can answer: I know this yard's parts, welding, inspection, outfitting, hours, schedule "
    "and procedures"
)
_SUGGEST: Final = {
    "destructive": ("lookup", "whatif", "adopt"),
    "out_of_scope": ("lookup", "weld_risk", "schedule"),
    "unplaceable": ("lookup", "weld_risk", "schedule"),
}
"""The intents whose example questions a refusal offers when nothing in the question points to others."""
_ASKING: Final = re.compile(
    r"^(is|are|does|do|can|will|would|should)\b|\b(what|which|how|when|where|who|why)\b(?!-)", re.IGNORECASE
)


@dataclass(frozen=True)
class Scores:
    """Every intent's score for a question, and the features behind them."""

    score: dict[str, float]
    """intent -> sum of weight x feature."""
    features: QuestionFeatures
    entities: Entities

    def probabilities(self) -> dict[str, float]:
        """The softmax of the scores."""
        top = max(self.score.values())
        exp = {intent: math.exp(s - top) for intent, s in self.score.items()}
        total = sum(exp.values())
        return {intent: e / total for intent, e in exp.items()}


class OfflinePlanner:
    """Turns a question into a `Plan` without any LLM; says plainly when it cannot place a question.

    Args:
        weights: feature name -> weight; None: the shipped `planner_weights.json`.
        embedder: what embeds the catalogue and the question; None: the offline WordLlama embedder, on first use.
        tools: the tools it may pick; None: every registered one that has an `args_from` (`intent_tools`).
        names: the yard's vocabulary (`brain.lexicon.Lexicon`); None: no yard at hand, so the questions name no
            code, resource or zone (a `Brain` gives its yard's).
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        embedder: Embedder | None = None,
        tools: Sequence[IntentTool] | None = None,
        names: Names | None = None,
    ) -> None:
        self.names = names
        """The yard's vocabulary: codes, resources and zones are looked up in it (`brain.lexicon`)."""
        self.weights: Mapping[str, float] = load_weights() if weights is None else weights
        self._embedder = embedder
        self._catalogue: Catalogue | None = None
        # one tool per intent, the first by name when two answer one (later entries of the dict win)
        chosen = intent_tools() if tools is None else tools
        self._tools = {t.intent: t for t in sorted(chosen, key=lambda t: t.tool, reverse=True)}
        # the intents the weights were fitted for; any other is a new tool's, scored by the `new:` weights
        self._builtin = frozenset(
            name.split(":", 1)[1] for name in self.weights if name.startswith("bias:")
        ) | frozenset(_OWN_INTENTS)
        self.tool_intents: tuple[str, ...] = tuple(sorted(self._tools))
        """The intents of the tools it can pick on its own."""
        self.intents: tuple[str, ...] = (*self.tool_intents, *_OWN_INTENTS)
        """Every intent the planner can place, "unknown" last."""

    def catalogue(self) -> Catalogue:
        """The example phrasings (the planner's and the tools'), embedded once per planner."""
        if self._catalogue is None:
            if self._embedder is None:
                from knowledge.documents import WordLlamaEmbedder

                self._embedder = WordLlamaEmbedder()
            examples: dict[str, list[str]] = {i: list(EXAMPLES.get(i, ())) for i in self.intents}
            for tool in self._tools.values():
                examples[tool.intent] += tool.examples
            self._catalogue = Catalogue.build(self._embedder, examples)
        return self._catalogue

    def runs(self, intent: str, entities: Entities, question: str) -> bool:
        """Whether the intent's tool gets its arguments from the question (an adoption: the what-if's)."""
        tool = self._tools.get("whatif" if intent == "adopt" else intent)
        return tool is not None and not isinstance(tool.args_from(entities, question), str)

    def features(self, question: str, entities: Entities | None = None) -> QuestionFeatures:
        """Every intent's features for the question (with the given entities, else its own)."""
        entities = extract_entities(question, self.names) if entities is None else entities
        return features(question, entities, self.catalogue(), self.intents, self.runs, self._builtin)

    def scores(self, question: str, entities: Entities | None = None) -> Scores:
        """Every intent's score: the sum of the learned weights over its features."""
        entities = extract_entities(question, self.names) if entities is None else entities
        found = self.features(question, entities)
        w = self.weights
        score = {
            intent: math.fsum(w.get(name, 0.0) * value for name, value in values.items())
            for intent, values in found.per_intent.items()
        }
        return Scores(score, found, entities)

    def classify(self, question: str, entities: Entities | None = None) -> tuple[str, float, str]:
        """(intent, confidence, reason) of a question, "unknown" when nothing places it."""
        scores = self.scores(question, entities)
        ranked = sorted(scores.score.items(), key=lambda kv: -kv[1])
        (intent, top), (runner_up, second) = ranked[0], ranked[1]
        best = scores.features.best
        if intent == "unknown":
            cued = f"cues for {', '.join(dict.fromkeys(scores.features.cued))}" if scores.features.cued else "no cue"
            return "unknown", 0.0, f"nothing places it ({cued}, closest phrasing {best:.2f}; best: {runner_up})"
        confidence = scores.probabilities()[intent]
        return intent, confidence, f"scored {top:.2f} ahead of {runner_up} {second:.2f} (cues, entities, similarity)"

    def plan(
        self,
        question: str,
        results: list[ToolResult] | None = None,
        previous: Plan | None = None,
        context: Mapping[str, object] | None = None,
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
        own = extract_entities(question, self.names)
        intent, confidence, reason = self.classify(question)
        entities = own
        earlier = self._earlier(context) if context is not None and _FOLLOW_UP.search(question) else None
        # a how-to stays one ("how do we weld it?"): the documents answer it, whatever the last question was about
        if earlier is not None and intent not in ("adopt", "procedure"):
            followed = self._follow_up(question, own, earlier)
            if followed[0] != intent or followed[3] != own:  # it took something from the previous question
                intent, confidence, reason, entities = followed
        return self.placed(question, intent, entities, confidence, reason, context)

    def placed(
        self,
        question: str,
        intent: str,
        entities: Entities,
        confidence: float = 1.0,
        reason: str = "",
        context: Mapping[str, object] | None = None,
    ) -> Plan:
        """The plan for a question once its intent is decided (unknown when the question lacks what it needs).

        Raises:
            ValueError: an intent the planner does not know (no registered tool answers it).
        """
        if intent not in self.intents:
            raise ValueError(f"no intent {intent!r}; the offline planner knows {', '.join(self.intents)}")
        q = spelled(question).lower()
        refusal = refused_outright(question)
        if refusal is not None:  # whatever else it asks: nothing runs for it
            return self.refused(question, entities, refusal, _DESTROYED if refusal == "destructive" else _OUTSIDE)
        unreadable = amount_problem(question)
        if unreadable is not None:  # "late by -4 days" is refused naming it, never read as 4 days (or as none)
            asked = "whatif" if intent == "adopt" else None if intent == "unknown" else intent
            return self.refused(question, entities, "unplaceable", unreadable, asked=asked)
        if intent == "unknown":
            return self._not_placed(question, entities)
        if intent == "adopt":
            what_if = (context or {}).get("what_if")
            return self._adopt(
                entities, what_if if isinstance(what_if, Mapping) else None, confidence, reason, question
            )
        if intent == "schedule" and not entities.codes and _ONE_BLOCK.search(question.lower()):
            missing = f"which block? an erection date needs a block code{self._such_as('block')}"
            return self.refused(question, entities, "unplaceable", missing, asked=intent)
        if intent == "critical_path" and not entities.codes and _ONE_THING.search(q):
            such = self._such_as("block", "assembly")
            missing = f"which one? the critical path into a block or assembly needs its code{such}"
            return self.refused(question, entities, "unplaceable", missing, asked=intent)
        step, missing = self._first_step(intent, entities, question)
        if step is None and not self._about_the_yard(q, entities):  # "translate 'weld'", "tell me about the Titanic"
            return self.refused(question, entities, "out_of_scope", _OUTSIDE)
        if step is None:
            return self.refused(question, entities, "unplaceable", missing, asked=intent)
        return Plan(intent=intent, entities=entities, steps=[step], confidence=confidence, reason=reason)

    @staticmethod
    def _about_the_yard(q: str, entities: Entities) -> bool:
        """Whether a question (spelled, lower-cased) that its intent's tool cannot run on is still a yard question.

        Not when it is an errand or about something else ("translate 'weld' into Korean", "what's the weather");
        yes when it names a code, a zone or a resource, speaks of the yard's things, or points back at something
        ("how long will it take?" lacks its subject).
        """
        if _ELSEWHERE.search(q):
            return False
        named = entities.codes or entities.zone is not None or entities.resource is not None
        return bool(
            named or _implied(entities) or _YARD_TOPIC.search(q) or _YARD_ASKS.search(q) or _POINTS_BACK.search(q)
        )

    def _not_placed(self, question: str, entities: Entities) -> Plan:
        """A question no intent won: a yard question that lacks what it needs, or one outside the yard.

        A yard question (`_about_the_yard`) for which a cue spoke for an intent whose tool cannot run on it says what
        that tool lacks ("... needs a code such as B012"); one that names a code says it could not tell what is asked
        of it. "What's the weather in Hamburg?" is out of scope, whatever its "what's" cues, and so is an errand
        ("order welding wire", "translate 'weld'") or a question about nothing of the yard's.
        """
        scores = self.scores(question, entities)
        named = [*entities.codes, *(x for x in (entities.zone, entities.resource) if x is not None)]
        q = spelled(question).lower()
        if not self._about_the_yard(q, entities):
            return self.refused(question, entities, "out_of_scope", _OUTSIDE, scores=scores)
        cued = [i for i in dict.fromkeys([*scores.features.cued, *_implied(entities)]) if i in self._tools]
        for intent in sorted(cued, key=lambda i: -scores.score[i]):
            step, missing = self._first_step(intent, entities, question)
            if step is None:
                return self.refused(question, entities, "unplaceable", missing, asked=intent, scores=scores)
        if named:
            what = f"I could not tell what you want to know about {', '.join(named)}"
            return self.refused(question, entities, "unplaceable", what, scores=scores)
        if _YARD_TOPIC.search(q):
            such = self._such_as("block")
            what = f"I could not tell what you want to know; name a block, assembly, part, joint or item{such}"
            return self.refused(question, entities, "unplaceable", what, scores=scores)
        if _ONLY_POINTS_BACK.search(q):  # "make it faster", "is it ok?": about something named before, not here
            what = f"I could not tell what 'it' is; name a block, assembly, part, joint or item{self._such_as('block')}"
            return self.refused(question, entities, "unplaceable", what, scores=scores)
        return self.refused(question, entities, "out_of_scope", _OUTSIDE, scores=scores)

    def refused(
        self,
        question: str,
        entities: Entities,
        kind: Refusal,
        why: str,
        asked: str | None = None,
        scores: Scores | None = None,
    ) -> Plan:
        """A plan that runs nothing, with why (`kind`, and in words) and two or three questions that can be asked.

        The questions are the example phrasings of the intent the question seemed to ask (`asked`), then of the
        intents its cues spoke for (best scored first), then of the usual ones for the kind; each names the
        question's own code where the phrasing names one of the same kind.
        """
        first: list[str] = [asked] if asked else []
        if kind != "destructive":
            scores = self.scores(question, entities) if scores is None else scores
            first += sorted(dict.fromkeys(scores.features.cued), key=lambda i: -scores.score[i])
        suggestions: list[str] = []
        for intent in dict.fromkeys([*first, *_SUGGEST[kind]]):
            phrase = self._example(intent, entities) if intent in self._tools or intent == "adopt" else None
            if phrase is not None and phrase not in suggestions:
                suggestions.append(phrase)
            if len(suggestions) == 3:
                break
        return Plan(
            intent="unknown",
            entities=entities,
            steps=[],
            confidence=0.0,
            reason=self._examples_in(why),
            refusal=kind,
            suggestions=suggestions,
        )

    def _examples_in(self, text: str) -> str:
        """A tool's message with its role placeholders ("a code such as <block>") read as the yard's own codes.

        Without a yard, or a code of that role, the example goes ("a code such as <block>" -> "a block code").
        """
        return _SUCH_AS.sub(lambda m: self._such_as(*placeholders(m.group(0))), text)

    def _code_like(self, role: str) -> str | None:
        """One of the yard's codes of `role`, to show what its codes look like (None without a yard or such codes)."""
        return self.names.example(role) if self.names is not None else None

    def _such_as(self, *roles: str) -> str:
        """The yard's own codes of those roles as ", such as <code> or <code>", or nothing without a yard."""
        codes = [c for role in roles if (c := self._code_like(role)) is not None]
        return f", such as {' or '.join(codes)}" if codes else ""

    def _example(self, intent: str, entities: Entities) -> str | None:
        """An example question of an intent: its tool's phrasings first, then the planner's.

        One that names a code rather than none, and the question's own code where it names one of the same kind.
        """
        tool = self._tools.get(intent)
        phrasings = [*(tool.examples if tool else ()), *EXAMPLES.get(intent, ())]
        if not phrasings:
            return None
        mine = dict(zip(reversed(entities.roles), reversed(entities.codes), strict=False))
        theirs = {role: code for role in ROLE_WORDS if (code := self._code_like(role)) is not None}
        filled = [(p, fill(p, mine)) for p in phrasings if placeholders(p)]
        # the question's own code where a phrasing names one of the same role, else the yard's own example codes
        phrase = next((f for _, f in filled if f is not None), None)
        if phrase is None:
            phrase = next((f for p, _ in filled if (f := fill(p, mine | theirs)) is not None), None)
        if phrase is None:
            phrase = next((p for p in phrasings if not placeholders(p)), None)
        if phrase is None:
            return None
        phrase = phrase[0].upper() + phrase[1:]
        return phrase + "?" if _ASKING.search(phrase) and phrase[-1] not in "?.!" else phrase

    def _follow_up(
        self, question: str, entities: Entities, earlier: tuple[str, Entities]
    ) -> tuple[str, float, str, Entities]:
        """A follow-up's intent and entities, from its own words and the previous question's.

        It keeps the previous intent when it names something new (a code, a duration) and no other intent scores
        clearly higher (`_CONTINUE`: "and for B013?", "how about a week?"); it takes the previous subject (codes,
        zone, resource) when it names none and its intent needs one ("and its NDT plan?"); durations and budgets
        carry over within one intent.
        """
        before_intent, before = earlier
        factor = extract_factors(question, asks_what_happens=False).unattributed
        if factor is not None and entities.welding_factor is None and entities.rework_factor is None:
            # "what about 30 % longer?" after "if welding on B012 takes 20 % longer": the change is of the same thing
            kind = next((k for k in ("welding_factor", "rework_factor") if getattr(before, k) is not None), None)
            if kind is not None:
                entities = entities.model_copy(update={kind: factor, "budget": None})
        hours = extract_hours(question)
        if before_intent == "ndt_plan" and entities.budget_hours is None and entities.days is None and hours:
            # "same for B014 with 20 hours" after an NDT plan: its budget, not a question about work hours
            entities = entities.model_copy(update={"budget_hours": hours})
        if before_intent in ("whatif", "adopt") and entities.resource is None and self.names is not None:
            # "and the same for the dock?": a resource named by its kind alone, in a what-if's follow-up
            said = self.names.resource(question, down=False)
            if said is not None:
                entities = entities.model_copy(update={"resource": said.text})
        own_subject = bool(entities.codes) or entities.zone is not None or entities.resource is not None
        subject = {k: getattr(entities if own_subject else before, k) for k in _SUBJECTS}
        merged = entities.model_copy(update=subject)
        score = self.scores(question, merged).score
        intent, confidence, reason = self.classify(question, merged)
        names_new = own_subject or any(getattr(entities, k) is not None for k in _MODIFIERS)
        # "adopt it" proposes a change: a follow-up of one only asks the what-if again
        previous = "whatif" if before_intent == "adopt" else before_intent
        lead = score[intent] - score.get(previous, -math.inf)
        if names_new and previous not in ("unknown", "procedure") and lead < _CONTINUE * self.weights.get("cues", 0.0):
            intent, confidence, reason = previous, 0.5, f"a follow-up of the previous {before_intent} question"
        if intent == "unknown":
            return intent, confidence, reason, entities
        q = spelled(question).lower()
        # it needs the previous subject when only that gives its tool what it needs ("and its NDT plan?")
        needs = not self.runs(intent, entities, question) and self.runs(intent, merged, question)
        if not own_subject and (needs or _ONE_BLOCK.search(q) or _POINTS_AT.search(q)):
            entities = merged
        if intent == before_intent or (intent == "whatif" and before_intent == "adopt"):
            carried = {k: getattr(before, k) for k in _MODIFIERS if getattr(entities, k) is None}
            entities = entities.model_copy(update=carried)
        return intent, confidence, reason, entities

    def _earlier(self, context: Mapping[str, object]) -> tuple[str, Entities] | None:
        """The previous question's intent and entities, None when the context holds none that can be read."""
        intent = context.get("intent")
        if not isinstance(intent, str) or intent not in self.intents:
            return None
        try:
            entities = Entities.model_validate(context.get("entities") or {})
        except ValidationError:  # a context from another version of the plan: treat the question as a new one
            return None
        return intent, entities

    def _first_step(self, intent: str, e: Entities, question: str) -> tuple[Step | None, str]:
        """The first step of an intent (its tool with the arguments the question gives), or None and what it lacks."""
        tool = self._tools.get("whatif" if intent == "adopt" else intent)
        if tool is None:
            return None, f"no tool answers {intent} questions"
        args = tool.args_from(e, question)
        if isinstance(args, str):
            return None, args
        return Step(tool=tool.tool, args=args), ""

    def _adopt(
        self, e: Entities, what_if: Mapping[str, object] | None, confidence: float, reason: str, question: str
    ) -> Plan:
        """An adoption: simulate the question's scenario, else the thread's last what-if, else ask which one."""
        step, missing = self._first_step("adopt", e, question)
        if step is not None:
            return Plan(intent="adopt", entities=e, steps=[step], confidence=confidence, reason=reason)
        last: dict[str, JsonValue] | None = None
        if what_if is not None:
            last = {k: v for k, v in what_if.items() if isinstance(v, str | int | float | None)}
        names = e.resource is not None or bool(e.codes)
        if last is not None and (not names or last.get("resource") == e.resource or last.get("code") in e.codes):
            # what the question does say overrides the last what-if ("adopt it, but for 5 days")
            if e.days is not None:
                last["days"] = e.days
            if e.start_day is not None:
                last["start_day"] = e.start_day
            if e.start_date is not None:
                last["start_date"] = e.start_date.isoformat()
            step = Step(tool="what_if", args=last)
            return Plan(
                intent="adopt", entities=e, steps=[step], confidence=confidence, reason="adopt the last what-if"
            )
        if not names:
            return Plan(intent="adopt", entities=e, steps=[], confidence=confidence, reason=_WHICH_WHAT_IF)
        return self.refused(question, e, "unplaceable", missing, asked="whatif")

    @staticmethod
    def _next(previous: Plan, results: Sequence[ToolResult]) -> Plan:
        last = results[-1]
        if previous.intent == "adopt" and last.tool == "what_if" and last.error is None:
            step = Step(tool="adopt_plan", args=dict(last.args))
            return previous.model_copy(update={"steps": [step], "reason": "the what-if ran; propose adopting it"})
        return previous.model_copy(update={"steps": []})


def refused_outright(question: str) -> Refusal | None:
    """The refusal a question gets whatever else it asks, before any planning; None for most questions.

    "destructive" when it asks to delete, drop, wipe, reset or overwrite data or change the database; "out_of_scope"
    when it is about the assistant itself ("show me your system prompt"). Any planner (the LLM one too) should run
    nothing for these.
    """
    q = spelled(question).lower()
    if _DESTRUCTIVE.search(q):
        return "destructive"
    if _ABOUT_ME.search(q):
        return "out_of_scope"
    return None


def _implied(entities: Entities) -> list[str]:
    """The intents an entity speaks for on its own: a budget is an inspection's, a factor on the work a what-if's."""
    budget = entities.budget is not None or entities.budget_hours is not None or entities.budget_joints is not None
    factor = entities.welding_factor is not None or entities.rework_factor is not None
    return [*(["ndt_plan"] if budget else []), *(["whatif"] if factor else [])]
