"""The offline planner: no LLM, exact entities, intents by rule and by embedding similarity for paraphrases.

The first round maps the question to one tool step from its intent and entities. Later rounds look at
the results: a question that asks to adopt a what-if first simulates it (`what_if`), and only when that
worked proposes the change (`adopt_plan`, which the supervisor puts to a person); every other question
is done after its first step. A question it cannot place, or one that lacks what its intent needs (a
code, a duration), gets no steps and a reason, never a guess.
"""

from __future__ import annotations

import re
from typing import Any, Final

import numpy as np
import numpy.typing as npt

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
# Cue words: (intent, weight, pattern) on the lower-cased question. Every cue that matches adds its weight to
# its intent; none decides alone, so a wording one cue misreads is outvoted by the others and by similarity.
RULES: Final[list[tuple[Intent, float, re.Pattern[str]]]] = [
    (intent, weight, re.compile(pattern))
    for intent, weight, pattern in [
        # adopt: only counts with a scenario to adopt (see _entity_evidence)
        ("adopt", 3.0, r"\b(adopt\w*|apply|commit\w*|lock (it |this |that )?in|make (it|this|that) official"
         r"|officially|make (it|this|that) the (new )?(plan|baseline)|(put|take|write|book|bake|build) .*in(to)? the"
         r" (plan|schedule|baseline)|update the (plan|schedule|baseline)|accept the (scenario|what-?if)"
         r"|the new (plan|baseline|schedule)|go with (it|this|that|the scenario)|implement the (scenario|what-?if)|plan (it|this) in)\b"),
        ("procedure", 2.0, r"\b(procedures?|wps|preheat\w*|rules?|lessons?|learn(ed|t)?|acceptance|criteri\w*"
         r"|allowed|allowable|permitted|permissible|standards?|requirements?|limits?|how (do|should|must|can|would)"
         r" (we|i|you)|how to|(welding )?process(es)?|do we use|guidelines?|specifications?|spec|tolerances?"
         r"|best practice|instructions?|documents?|manual|class (society|rules)|qualif\w*|consumables?"
         r"|electrodes?|filler|interpass|heat input|root gap|fit-?up|porosity|undercut|cracks?|burn-?through|how should"
         r"|how (is|are) .* (welded|done|handled|installed|fitted|repaired|inspected|tested|treated|lifted)"
         r"|distortion|say about|says about|incident|experience|what happened)\b"),
        ("procedure", 1.5, r"\b(required|maximum|minimum|max|min|how (heavy|thick|thin|big|much weight) can"
         r"|lift(ing)? (limit|capacity)|weight limit)\b"),
        ("ndt_plan", 2.0, r"\b(ndt|inspect\w*|ultrason\w*|radiograph\w*|x-?ray\w*|ut|rt|mt|pt|non[- ]?destructive"
         r"|test(s|ed|ing)?|qc|sampl\w*|examin\w*|scan\w*)\b"),
        ("ndt_plan", 1.0, r"\b(check(ed|ing)?|look at|verify)\b"),
        ("ndt_plan", 1.5, r"\b(check|inspect|test|examin|verify|look at|scan|x-?ray)\w*\b.*\b(welds?|joints?|seams?)\b"
         r"|\b(welds?|joints?|seams?)\b.*\b(check|inspect|test|examin|verify|look at|scan|x-?ray)\w*"),
        ("whatif", 1.5, r"\b(what if|what happens if|suppose|supposing|simulat\w*|scenario|hypothetical\w*"
         r"|assume|assuming|imagine)\b"),
        ("schedule", 2.0, r"\b(erect(ed|ion)? (date|day)|when (will|is|does|do|can|are|would|should) .*(erect\w*"
         r"|dock|berth|land\w*|lift\w*|finish\w*|complet\w*|deliver\w*|launch\w*|done|ready|placed|go(es)? on)"
         r"|(what|which) day .*(erect\w*|dock|berth|land\w*|lift\w*)|critical path|makespan|schedul\w*"
         r"|delivery|deliver(ed)?|finish(ed)? the (ship|hull|vessel)|launch\w*|berth|keel|(ship|hull|vessel)"
         r" (be |is |gets? )?(finished|complete\w*|done|ready|built)|how many days (until|till|to|left)"
         r"|(whole|entire|complete) (ship|hull|vessel)|end date|completion|total duration|build time"
         r"|timeline|gantt)\b"),
        ("schedule", 0.7, r"\b(when|what day|which day|date|erect\w*|lifted|dock)\b"),
        ("outfitting", 2.0, r"\b(outfit\w*(?! items? o\d)|rework|on-?block|on-?board|on-?unit|pipe ?spools?"
         r"|spools?|cable trays?|hvac|pipes?|piping|cables?|ducts?|ducting|equipment|fittings?|valves?"
         r"|install\w*|stage|zone)\b"),
        ("weld_risk", 1.2, r"\b(risk\w*|chance|probabilit\w*)\b"),
        ("weld_risk", 2.0, r"\b(defect\w*|weld(ing)? (hours|hrs|time)|how long .*weld\w*|hours .*weld\w*"
         r"|repairs?|(hard|difficult|tricky|tough|easy) (is the weld\w*|to weld)|worst welds?|weld(ing)? quality"
         r"|qualty|likely to (fail|be defective|need repair)|problem welds?|bad welds?"
         r"|weld(ing)? (problems|issues|trouble))\b"),
        ("weld_risk", 0.6, r"\b(weld(s|ing)?)\b"),
        ("hours", 2.0, r"\b(man-?hours|person-?hours|labou?r|workload|effort|work content|manpower|how much work"
         r"|work hours|hours of work)\b"),
        ("hours", 1.0, r"\b(hours|hrs|how long will .* take)\b"),
        ("downstream", 2.0, r"\b(downstream|waits? (on|for)|waiting (for|on)|held up|holds? up|blocked|slips?"
         r"|delay\w*|affected|late|impact\w*|successors?|(what|who|which \w+) (else )?(depends?|relies|rel(y|ies))"
         r" on|comes? after|follows?|following|follow on|knock-?on|ripple|consequences?|effects?|moves?|after"
         r" .* (is|are) (done|finished|complete)|next in line|stuck|hinges? on|dependents?)\b"),
        ("downstream", 1.0, r"\b(can('t|not)|won't|unable to) (start|proceed|begin|go ahead|continue|move)\b|\b(not|isn't|aren't|never) (yet )?(done|finished|welded|ready|complete\w*|delivered|fitted"
         r"|built|installed|there)( (in|on) time)?\b|\b(in|on) time\b|doesn't (arrive|come|show)"),
        ("upstream", 2.0, r"\b(upstream|before|ahead of|prerequisite\w*|(does|do|did)\b.*\bdepend on|what (\S+ ){1,4}depends?"
         r" on|dependenc(y|ies)|needed for"
         r"|(must|has to|have to|need(s)? to) be (done|finished|complete\w*|ready|in place|welded|built)"
         r"|predecessors?|go(es)? into|feed(s|ing)?( into)?|comes? before|leading up to|lead up to|needed first"
         r"|happen first|in place first|inputs?|precede\w*|requires?)\b"),
        ("lookup", 2.0, r"\b(what kind of|what type of|describe|tell me about|look ?up|details?|info(rmation)?"
         r"|overview|summar(y|ise|ize)|holds?(?! up)|contains?|consists? of|made (up )?of|make up|makes up"
         r"|breakdown|composed of|comprises?|what('s| is) in|wh?at is in|part of|belongs? to|connects?"
         r"|how many (parts|joints|sub-?assemblies|assemblies|items|members)|list the (parts|joints|assemblies"
         r"|sub-?assemblies|items))\b"),
        ("lookup", 1.0, r"\b(what is|what's|whats|show|what are|explain|identify)\b"),
        # "what is B012?", "tell me what O001-00007 is": the question is the code itself
        ("lookup", 1.5, r"^\W*(what|whats|what's)(\s+is|\s+are)?\s+(the\s+)?[a-z0-9-]+\s*\??\s*$|\bwhat [a-z0-9-]+ (is|are)\b"),
    ]
]
# Example phrasings per intent, written from the intents' definitions in the yard's words (codes stand for their
# kind, see _for_similarity); "unknown" holds questions outside the brain's scope, so similarity can say so.
EXAMPLES: Final[dict[Intent, list[str]]] = {
    "lookup": [
        "what does block B012 consist of",
        "give me the details of this part",
        "summarise assembly B003-A02",
        "what is this joint",
        "what is in this block",
        "describe this sub-assembly",
        "tell me everything about this outfitting item",
        "which assemblies does the block have",
        "how many parts are in this sub-assembly",
        "what are the members of the assembly",
        "give me the facts on this work package",
        "what does the joint connect",
        "which block does this part belong to",
        "what is this item and where is it",
        "show me the assembly",
        "print the contents of the block",
        "what type of object is this code",
        "identify this code for me",
        "list everything inside the assembly",
        "give a short description of the block",
    ],
    "upstream": [
        "what has to happen first for B012",
        "which parts go into this assembly",
        "list the predecessors",
        "what must be finished before the block can start",
        "what does this assembly need before it can begin",
        "which joints have to be welded before this one",
        "what are the inputs of the sub-assembly",
        "what comes before the block in the build sequence",
        "everything the block depends on",
        "which tasks precede this assembly",
        "what needs to be ready before we can erect the block",
        "what feeds into this sub-assembly",
        "prerequisites of the part",
        "trace the dependencies back from the block",
        "what is on the path leading up to the assembly",
        "what should be completed ahead of this work package",
    ],
    "downstream": [
        "what else moves if this part comes in a week late",
        "which erections follow this block",
        "what waits for this assembly",
        "what is held up if the part is late",
        "which blocks depend on this sub-assembly",
        "what comes after this joint",
        "who is affected when the assembly is delayed",
        "knock-on effect of the block slipping",
        "successors of the work package",
        "what is blocked until this part is done",
        "if the item does not arrive, what gets delayed",
        "what relies on this assembly",
        "what can't start until the block is finished",
        "which work is waiting on this outfitting item",
        "what follows the sub-assembly in the build",
        "what is the impact of this part being late",
    ],
    "weld_risk": [
        "how risky is the welding in block B012",
        "where will weld repairs happen",
        "expected weld repairs",
        "predicted welding hours and defect risk for the assembly",
        "which joints are likely to be defective",
        "how many weld defects will the block have",
        "which welds are the riskiest",
        "is the block hard to weld",
        "how long will the welding of this assembly take",
        "what is the defect probability of the joints",
        "will the welds in this block need rework",
        "welding difficulty of the assembly",
        "how many welding hours does the block need",
        "where are the weak welds",
        "which seams are most likely to crack",
        "predict weld quality problems for the block",
    ],
    "ndt_plan": [
        "which welds should we check",
        "choose the joints to test",
        "where should the inspectors look",
        "make an inspection plan for the block",
        "which joints should get ultrasonic testing",
        "pick welds for radiography within budget",
        "select joints to x-ray",
        "non-destructive testing plan for the assembly",
        "what should quality control inspect in this block",
        "NDT sampling plan with a percent budget",
        "which seams go for UT",
        "prioritise the joints for inspection",
        "we can test a few percent of the joints, which ones",
        "where to spend the inspection budget",
        "which joints to scan first",
    ],
    "hours": [
        "how much work is block B012",
        "how many hours will this assembly take",
        "estimate the effort",
        "predicted man-hours for the work package",
        "total labour for the blocks",
        "workload of the assembly",
        "how many work hours does the block need",
        "how much manpower does the work package require",
        "what is the work content of the block",
        "hours to build the assembly",
        "estimate the labour hours for these blocks",
        "how big a job is the work package",
        "how long will the assembly take in man-hours",
        "effort estimate for the panel work package",
        "sum the hours of the two blocks",
    ],
    "outfitting": [
        "which pipes and cables go in before the block is closed",
        "what outfitting is at risk of rework",
        "at which stage are the outfitting items installed",
        "on-block or on-board for the items of the block",
        "outfitting status of the zone",
        "which pipe spools might be reworked",
        "is the HVAC ducting fitted on-block",
        "what equipment goes into the block before erection",
        "rework risk of the items in this zone",
        "installation stage of the cable trays",
        "outfitting plan for the assembly",
        "which valves and pipes are fitted at which stage",
        "how much outfitting rework do we expect in the zone",
        "are the items in this block installed at the right stage",
        "outfitting items of the block and their stages",
    ],
    "procedure": [
        "how do we weld thick high strength plate",
        "what do the rules say about overhead welding",
        "what preheat does the procedure require",
        "acceptance criteria for weld defects",
        "which welding procedure specification covers fillet welds",
        "lessons learned from past projects",
        "what is the standard for fit-up gaps",
        "how should cracks be repaired",
        "what did we learn last time about pipe installation",
        "what is the maximum weight the crane can lift",
        "what is the rule for installing equipment before the block closes",
        "how much NDT do the class rules require",
        "what does the manual say about distortion",
        "which process do we use for vertical welds",
        "what is the allowed misalignment for butt joints",
        "how to avoid porosity in welds",
        "guidance for handling a delayed work package",
        "what happened on the last ship with the cable trays",
        "what interpass temperature is permitted",
        "how do we plan outfitting for a block in general",
    ],
    "schedule": [
        "when does block B012 go into the dock",
        "how long will the whole ship take to build",
        "on which day is the block erected",
        "what is the makespan of the schedule",
        "show the critical path",
        "when will the ship be finished",
        "what is the erection date of the block",
        "when is the block lifted onto the berth",
        "when will the hull be complete",
        "how many days is the build",
        "what is the delivery date",
        "which blocks are critical",
        "when is the last block erected",
        "what does the erection sequence look like",
        "when is the ship ready",
        "current schedule for the blocks",
    ],
    "whatif": [
        "panel line 2 stops for three days, what moves",
        "the workshop is closed for a week, consequences",
        "what if the crane is down for 5 days",
        "simulate the block arriving 4 days late",
        "if the panel line fails for two weeks, what happens to the erections",
        "suppose the outfitting hall is out of action for ten days",
        "the assembly will be a week late, which erections slip",
        "what happens to the delivery if the dock is closed for 3 days",
        "impact of a 6 day outage on the workshop",
        "the part comes in 2 days late, effect on the schedule",
        "if the gantry crane breaks down for a week starting day 10",
        "maintenance on the panel line for 4 days, what slips",
        "the block is delayed by 3 weeks, how much does the ship slip",
        "what if we lose the workshop for a few days from a date",
        "run a scenario with the crane unavailable for 2 days",
    ],
    "adopt": [
        "adopt the what-if with panel line 2 down for 3 days",
        "apply this scenario to the plan",
        "commit the crane outage of a week to the schedule",
        "make it the new plan: the workshop closed for two days",
        "put the block being 5 days late into the plan",
        "update the schedule with the outfitting hall out for a week",
        "lock in the scenario of the panel line stopping for 4 days",
        "accept the what-if and change the baseline",
        "make the delay of the assembly official",
        "go with the scenario, the dock closed for 3 days",
        "take the crane being down for 2 days into the plan",
        "write the panel line outage into the schedule",
        "implement the what-if of the workshop down a week",
        "we will go ahead with this change to the plan",
        "officially record the block 4 days late in the plan",
    ],
    "unknown": [
        "will it rain on friday",
        "compose a song about the sea",
        "say something funny",
        "what was the score in the game yesterday",
        "how much is a barrel of oil",
        "what did a tanker sell for last year",
        "reserve a table for two",
        "send an email to my boss",
        "what time is it in Seoul",
        "buy new gloves for the welders",
        "good morning",
        "thank you",
        "how is the stock market today",
        "who is the chief executive of the company",
        "recommend a good restaurant nearby",
        "what is the capital of Norway",
        "how do I reset my password",
        "play some music",
        "how many employees work at the yard",
        "what is the euro to dollar exchange rate",
        "can you fill in my timesheet",
        "what's a good name for a cat",
        "summarise the news",
        "when is the next public holiday",
    ],
}
_VOTE_WEIGHT: Final = 2.5
"""The most the similarity vote adds to one intent; a strong cue word counts 2."""
_TOP_K: Final = 7
_MIN_SIMILARITY: Final = 0.45
"""Below this, a question no cue speaks for is unknown."""
_MIN_SIMILARITY_ALONE: Final = 0.65
"""Below this, a question that names nothing (no code, zone or resource) needs a cue word for the intent it gets."""
_NEEDS_CODE: Final[set[str]] = {"lookup", "upstream", "downstream", "weld_risk", "ndt_plan", "hours"}
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
    score: dict[Intent, float] = dict.fromkeys(INTENTS, 0.0)  # type: ignore[arg-type]
    code = bool(e.codes)
    scenario = e.days is not None and (e.resource is not None or (code and re.search(_DISRUPTION, q) is not None))
    if scenario:
        score["whatif"] += 3.0
        score["adopt"] += 4.0 if "adopt" in cued else 0.0
        score["downstream"] -= 1.5
        score["schedule"] -= 1.5  # "what happens to the schedule" asks how the scenario changes it
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

    def scores(self, question: str) -> tuple[dict[Intent, float], float, list[Intent], Entities]:
        """Every intent's score (cues + entities + similarity vote), the best similarity, the cued intents and the
        entities."""
        q = question.lower()
        entities = extract_entities(question)
        score: dict[Intent, float] = dict.fromkeys([*INTENTS, "unknown"], 0.0)  # type: ignore[arg-type]
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

    def classify(self, question: str) -> tuple[Intent, float, str]:
        """(intent, confidence, reason) of a question, "unknown" when nothing places it."""
        score, best, cued, e = self.scores(question)
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

    def plan(self, question: str, results: list[ToolResult] | None = None, previous: Plan | None = None) -> Plan:
        """The next plan for a question, given the results so far (none on the first round)."""
        if previous is not None and results:
            return self._next(previous, results)
        entities = extract_entities(question)
        intent, confidence, reason = self.classify(question)
        if intent == "unknown":
            return _unknown(entities, reason)
        step, missing = _first_step(intent, entities, question)
        if step is None:
            return _unknown(entities, missing)
        intent = "procedure" if step.tool == "search_documents" else intent
        return Plan(intent=intent, entities=entities, steps=[step], confidence=confidence, reason=reason)

    @staticmethod
    def _next(previous: Plan, results: list[ToolResult]) -> Plan:
        last = results[-1]
        if previous.intent == "adopt" and last.tool == "what_if" and last.error is None:
            step = Step(tool="adopt_plan", args=dict(last.args))
            return previous.model_copy(update={"steps": [step], "reason": "the what-if ran; propose adopting it"})
        return previous.model_copy(update={"steps": []})


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
        if code is None and _ONE_BLOCK.search(question.lower()):
            return None, "which block? erection dates need a block code such as B012"
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
