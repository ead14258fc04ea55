"""The offline planner: no LLM, exact entities, intents by rule and by embedding similarity for paraphrases."""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import numpy.typing as npt

from brain.plan import INTENTS, Intent, Plan, Step, extract_codes, extract_percent
from knowledge.documents import Embedder

__all__ = ["OfflinePlanner"]

# (intent, pattern): the first rule that matches wins; rules are checked on the lower-cased question.
_RULES: Final[list[tuple[Intent, re.Pattern[str]]]] = [
    ("ndt_plan", re.compile(r"\b(ndt|inspect\w*|ultrason\w*|radiograph\w*|x-ray)\b")),
    (
        "schedule",
        re.compile(r"\b(erect(ed|ion)? (date|day)|when (will|is|can) .*erect\w*|critical path|makespan|schedul\w*)\b"),
    ),
    ("weld_risk", re.compile(r"\b(defect|risk\w*|weld(ing)? hours|how long .*weld|hours .*weld)\b")),
    ("downstream", re.compile(r"\b(downstream|waits? on|slips?|delay\w*|affected|late|impact\w*)\b")),
    ("upstream", re.compile(r"\b(upstream|before|prerequisite\w*|depends? on|needed for|must be (done|finished))\b")),
    ("procedure", re.compile(r"\b(procedure|wps|preheat\w*|rule\w*|lesson\w*|acceptance|allowed|standard)\b")),
    ("lookup", re.compile(r"\b(what is|show|describe|tell me about|look ?up)\b")),
]
# Example phrasings per intent: a paraphrase the rules miss is placed by embedding similarity.
_EXAMPLES: Final[dict[Intent, list[str]]] = {
    "lookup": ["what does block B012 consist of", "give me the details of this part", "summarise assembly B003-A02"],
    "upstream": ["what has to happen first for B012", "which parts go into this assembly", "list the predecessors"],
    "downstream": ["what else moves if this part comes in a week late", "which erections follow this block"],
    "weld_risk": ["how risky is the welding in block B012", "where will weld repairs happen", "expected weld repairs"],
    "ndt_plan": ["which welds should we check", "choose the joints to test", "where should the inspectors look"],
    "procedure": ["how do we weld thick high strength plate", "what do the rules say about overhead welding"],
    "schedule": ["when does block B012 go into the dock", "how long will the whole ship take to build"],
}
_MIN_SIMILARITY: Final = 0.45


class OfflinePlanner:
    """Turns a question into a `Plan` without any LLM; says plainly when it cannot place a question."""

    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._examples: tuple[list[Intent], npt.NDArray[np.float32]] | None = None

    def _similar(self, question: str) -> tuple[Intent, float]:
        if self._examples is None:
            from knowledge.documents import WordLlamaEmbedder

            self._embedder = WordLlamaEmbedder()
            labels = [intent for intent, phrases in _EXAMPLES.items() for _ in phrases]
            vectors = self._embedder.embed([p for phrases in _EXAMPLES.values() for p in phrases])
            self._examples = (labels, vectors)
        labels, vectors = self._examples
        assert self._embedder is not None
        scores = vectors @ self._embedder.embed([question])[0]
        best = int(np.argmax(scores))
        return labels[best], float(scores[best])

    def plan(self, question: str) -> Plan:
        """The plan for one question."""
        codes = extract_codes(question)
        text = question.lower()
        intent: Intent | None = next((i for i, rule in _RULES if rule.search(text)), None)
        confidence, reason = 1.0, "matched a rule"
        if intent is None:
            intent, confidence = self._similar(question)
            reason = f"closest example phrasing (similarity {confidence:.2f})"
            if confidence < _MIN_SIMILARITY:
                return self._unknown(codes, f"no rule matched and the closest phrasing scored {confidence:.2f}")
        if intent == "schedule":
            step = Step(tool="erection_schedule", args={"code": codes[0] if codes else None})
            return Plan(intent="schedule", codes=codes, steps=[step], confidence=confidence, reason=reason)
        if intent == "procedure" or (not codes and intent != "unknown"):
            if intent != "procedure" and not codes:
                return self._unknown(codes, f"{INTENTS[intent]} needs a code such as B012 or B012-A03")
            step = Step(tool="search_documents", args={"query": question})
            return Plan(intent="procedure", codes=codes, steps=[step], confidence=confidence, reason=reason)
        args: dict[str, object] = {"code": codes[0]}
        if intent == "ndt_plan":
            args["budget"] = extract_percent(question) or 0.1
        tool = {"lookup": "lookup", "upstream": "upstream", "downstream": "downstream",
                "weld_risk": "weld_risk", "ndt_plan": "ndt_plan"}[intent]  # fmt: skip
        step = Step(tool=tool, args=args)
        return Plan(intent=intent, codes=codes, steps=[step], confidence=confidence, reason=reason)

    @staticmethod
    def _unknown(codes: list[str], why: str) -> Plan:
        return Plan(intent="unknown", codes=codes, steps=[], confidence=0.0, reason=why)
