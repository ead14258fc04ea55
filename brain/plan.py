"""The typed plan a planner hands the supervisor: an intent, the entities it found, and the tool steps.

Both planners (the offline one and the LLM one) produce the same `Plan`. Entities are extracted
exactly, by pattern, from the question's own words: yard codes, an inspection budget, a duration, a
start day or date, a resource and an outfitting zone. Nothing is guessed: an entity that is not in
the question is None.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "CODE_PATTERN",
    "Entities",
    "Intent",
    "Plan",
    "Step",
    "extract_codes",
    "extract_entities",
    "extract_percent",
]

Intent: TypeAlias = str
"""An intent's name: what a question asks, named by the tool that answers it (`brain.tools.ToolSpec.intent`), or
"unknown". Plug-in tools add intents, so the set is open: `brain.intents.INTENTS` lists them from the tool registry,
the planners make plans only of intents they know, and `Plan` checks the shape of the name."""
CODE_PATTERN: Final = re.compile(
    r"\b(B\d{1,3}(?:-A\d{1,2}(?:-S\d{1,2}(?:-P\d{1,4})?)?)?|J\d{1,3}-\d{1,6}|O\d{1,3}-\d{1,5}"
    r"|WP-B\d{1,3}-(?:PNL|ASM|OFB|ERE|OBD))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS: Final = {
    **{"a": 1, "an": 1},
    **{w: n for n, w in enumerate("one two three four five six seven eight nine ten".split(), start=1)},
    **{w: n for n, w in enumerate("eleven twelve thirteen fourteen fifteen sixteen seventeen".split(), start=11)},
    **{"eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-one": 21, "thirty": 30, "forty": 40, "fifty": 50},
}
_NUM: Final = r"(\d{1,4}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_PERCENT: Final = re.compile(
    r"(\d+(?:\.\d+)?|" + "|".join(w for w in _NUMBER_WORDS if len(w) > 2) + r")\s*(?:%|percent\b|per cent\b|pct\b)",
    re.IGNORECASE,
)
_DURATION: Final = re.compile(
    rf"\b(?:{_NUM}[\s-]+(?:working[\s-]+|calendar[\s-]+|full[\s-]+)?(day|week|month)s?|(a\s+)?(fortnight)"
    r"|(a\s+)?(couple)\s+of\s+(day|week)s)\b",
    re.IGNORECASE,
)
_START_DAY: Final = re.compile(
    r"\b(?:from|on|starting(?: on| from| at)?|beginning(?: on| at| from)?|commencing(?: on)?|at|after|as of)"
    r"\s+day\s+(\d{1,4})\b",
    re.IGNORECASE,
)
_DATE: Final = re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b")
# A resource number, never a duration: "dock 1" names the dock, "dock 3 days" says how long.
_RES_NUM: Final = (
    r"\s*(?:no\.?\s*|number\s+|#\s*)?(\d{1,2}|one|two|three|four|five|six|seven|eight|nine)"
    r"(?![\s-]*(?:working[\s-]+|calendar[\s-]+)?(?:days?|weeks?|months?|%|percent|per cent)\b)(?![\d.])"
)
_RESOURCE_WORDS: Final = (
    (re.compile(rf"\bpanel[\s-]*lines?{_RES_NUM}", re.IGNORECASE), "PL-{}"),
    (re.compile(rf"\b(?:assembly\s+)?workshops?{_RES_NUM}", re.IGNORECASE), "WS-{}"),
    (re.compile(rf"\boutfitting[\s-]*halls?{_RES_NUM}", re.IGNORECASE), "OH-{}"),
    (re.compile(rf"\b(?:gantry[\s-]*)?cranes?{_RES_NUM}|\bgantry{_RES_NUM}", re.IGNORECASE), "GC-{}"),
    (re.compile(r"\b(PL|WS|OH|GC|DOCK)-?(\d{1,2})\b", re.IGNORECASE), "{}-{}"),
)
# The dock is a resource only when it is the thing that is down ("the dock is closed", "lose the dock"),
# never where a block goes ("reach the dock", "into the dock"); its number only as "dock 1".
_DOCK: Final = r"(?:(?:building|dry|graving)[\s-]*)?dock(?:" + _RES_NUM + r")?"
_DOCK_DOWN: Final = re.compile(
    rf"\b{_DOCK}\s+(?:(?:is|are|was|goes|went|gets|got|will be|would be|were|being|becomes?|stays?|remains?)\s+)?"
    r"(?:(?:not|completely|fully|totally|partly)\s+)?(?:down|closed|closes|shut|shuts|blocked|unavailable|unusable"
    r"|out\b|offline|flooded|occupied|under maintenance|in maintenance|maintenance|outage|closure|shutdown"
    r"|breaks?|broken|fails?|failure|stops?|stopped|not available|unavailability|repairs?)"
    rf"|\b(?:lose|lost|losing|loses|close|closing|closes|shut(?:ting)?|block(?:ing|s)?|without)\s+(?:the\s+)?{_DOCK}"
    rf"(?:\s+down)?|\b(?:outage|closure|shutdown|maintenance|unavailability)\s+(?:of|on|at)\s+(?:the\s+)?{_DOCK}",
    re.IGNORECASE,
)
_ZONE: Final = re.compile(r"\bMVZ[\s-]?(\d{1,2})[\s-]?L(\d{1,2})\b", re.IGNORECASE)


class Step(BaseModel):
    """One tool call."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, JsonValue] = Field(default_factory=dict)


class Entities(BaseModel):
    """What the question names, exactly as it names it (None where it names nothing)."""

    model_config = ConfigDict(frozen=True)

    codes: list[str] = Field(default_factory=list)
    """Yard codes (blocks, assemblies, parts, joints, outfitting items, work packages), upper-cased, in order."""
    budget: float | None = None
    """An inspection budget, as a fraction (from "5 %")."""
    days: int | None = None
    """A duration in days (from "3 days", "a week", "two weeks")."""
    start_day: int | None = None
    """A schedule day (from "from day 10")."""
    start_date: date | None = None
    """A calendar date (from "2025-03-10")."""
    resource: str | None = None
    """A yard resource (from "panel line 2" or "PL-2")."""
    zone: str | None = None
    """An outfitting zone (from "MVZ3-L2")."""


class Plan(BaseModel):
    """What the planner understood and what to run next (no steps: the planner is done)."""

    model_config = ConfigDict(frozen=True)

    intent: Intent = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    """What the question asks (see `Intent`); "unknown" when the planner could not place it."""
    entities: Entities = Field(default_factory=Entities)
    steps: list[Step] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    """How sure the planner is of the intent (1 for an exact rule, a similarity otherwise)."""
    reason: str
    answer: str | None = None
    """The planner's own words for the answer, when it has any (the LLM planner); the supervisor adds the
    tools' numbers, rows and sources below them."""
    fallback: bool = False
    """This plan came from the offline planner because the LLM planner failed."""

    @property
    def codes(self) -> list[str]:
        """The yard codes the question names."""
        return self.entities.codes


def extract_codes(question: str) -> list[str]:
    """Yard codes in a question, upper-cased, in order, without repeats."""
    seen: list[str] = []
    for match in CODE_PATTERN.finditer(question):
        code = match.group(1).upper()
        if code not in seen:
            seen.append(code)
    return seen


def extract_percent(question: str) -> float | None:
    """A percentage in the question (an inspection budget), as a fraction."""
    match = _PERCENT.search(question)
    if match is None:
        return None
    word = match.group(1)
    return (float(word) if word[0].isdigit() else _NUMBER_WORDS[word.lower()]) / 100.0


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def extract_days(question: str) -> int | None:
    """A duration in the question, in days ("3 days", "a week", "two weeks", "a fortnight", "1 month" = 30 days)."""
    for match in _DURATION.finditer(question):
        before = question[: match.start()].rstrip().lower()
        if match.group(1) and before.endswith("day"):  # "day 10 days": the number belongs to the day before it
            continue
        if match.group(4):
            return 14
        if match.group(6):  # "a couple of days / weeks"
            return 2 * {"day": 1, "week": 7}[match.group(7).lower()]
        return _number(match.group(1)) * {"day": 1, "week": 7, "month": 30}[match.group(2).lower()]
    return None


def extract_resource(question: str) -> str | None:
    """A yard resource named in the question, as the yard writes it ("panel line 2" -> "PL-2").

    The dock counts only when it is what is down ("the dock is closed for 2 days" -> "DOCK-1"); a block that
    reaches the dock late names no resource. The first resource the question names wins.
    """
    found: list[tuple[int, str]] = []
    for pattern, template in _RESOURCE_WORDS:
        match = pattern.search(question)
        if match is None:
            continue
        groups = [g for g in match.groups() if g is not None]
        if template == "{}-{}":
            found.append((match.start(), f"{groups[0].upper()}-{int(groups[1])}"))
        else:
            found.append((match.start(), template.format(_number(groups[0]))))
    dock = _DOCK_DOWN.search(question)
    if dock is not None:
        number = next((g for g in dock.groups() if g is not None), None)
        found.append((dock.start(), f"DOCK-{_number(number) if number else 1}"))
    return min(found)[1] if found else None


def extract_entities(question: str) -> Entities:
    """Every entity the question names."""
    start = _START_DAY.search(question)
    when = _DATE.search(question)
    start_date = None
    if when:
        try:
            start_date = date(int(when.group(1)), int(when.group(2)), int(when.group(3)))
        except ValueError:  # "2025-02-30" names no day: leave it out rather than guess
            start_date = None
    zone = _ZONE.search(question)
    return Entities(
        codes=extract_codes(question),
        budget=extract_percent(question),
        days=extract_days(question),
        start_day=int(start.group(1)) if start else None,
        start_date=start_date,
        resource=extract_resource(question),
        zone=f"MVZ{int(zone.group(1))}-L{int(zone.group(2))}" if zone else None,
    )
