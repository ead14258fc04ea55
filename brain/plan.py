"""The typed plan a planner hands the supervisor: an intent, the entities it found, and the tool steps.

Both planners (the offline one and the LLM one) produce the same `Plan`. Entities are extracted
exactly, by pattern, from the question's own words: yard codes, an inspection budget (a share, hours or a
number of joints), a duration, a start day or date, a resource, an outfitting zone, and how much longer
welding takes or how much more rework there is in a cross-model what-if. Nothing is guessed: an entity
that is not in the question is None.

A plan that answers nothing says why in `refusal`: the question is out of the yard's scope, it asks to
destroy or overwrite data (nothing ever runs for it), or it is a yard question that lacks what it needs
(`reason` says exactly what).
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

if TYPE_CHECKING:
    from brain.lexicon import Names

__all__ = [
    "LAST_START_DAY",
    "MAX_WHAT_IF_DAYS",
    "Entities",
    "Intent",
    "Plan",
    "Refusal",
    "Step",
    "amount_problem",
    "extract_date",
    "extract_entities",
    "extract_factors",
    "extract_hours",
    "extract_percent",
]

Intent: TypeAlias = str
"""An intent's name: what a question asks, named by the tool that answers it (`brain.tools.ToolSpec.intent`), or
"unknown". Plug-in tools add intents, so the set is open: `brain.intents.INTENTS` lists them from the tool registry,
the planners make plans only of intents they know, and `Plan` checks the shape of the name."""
_NUMBER_WORDS: Final = {
    **{"a": 1, "an": 1, "a hundred": 100, "one hundred": 100, "hundred": 100, "two hundred": 200},
    **{"sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90},
    **{w: n for n, w in enumerate("one two three four five six seven eight nine ten".split(), start=1)},
    **{w: n for n, w in enumerate("eleven twelve thirteen fourteen fifteen sixteen seventeen".split(), start=11)},
    **{"eighteen": 18, "nineteen": 19, "twenty": 20, "twenty-one": 21, "thirty": 30, "forty": 40, "fifty": 50},
}
_NUM: Final = r"(\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_PERCENT: Final = re.compile(
    r"(\d+(?:\.\d+)?|" + "|".join(w for w in _NUMBER_WORDS if len(w) > 2) + r")\s*(?:%|percent\b|per cent\b|pct\b)",
    re.IGNORECASE,
)
_DURATION: Final = re.compile(
    rf"\b(?:{_NUM}(?:[\s-]+|(?<=\d))(?:working[\s-]+|calendar[\s-]+|full[\s-]+)?(day|week|wk|month)s?|(a\s+)?(fortnight)"
    r"|(a\s+)?(couple)\s+of\s+(day|week)s)\b",
    re.IGNORECASE,
)
_STARTING: Final = (
    r"\b(?:from|on|starting(?: on| from| at)?|beginning(?: on| at| from)?|commencing(?: on)?|at|after|as of)\s+day\s+"
)
_START_DAY: Final = re.compile(_STARTING + r"(\d+)\b(?![.,]\d)", re.IGNORECASE)
_MONTHS: Final = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH: Final = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY_OF_MONTH: Final = r"(\d{1,2})(?:st|nd|rd|th)?"
# Calendar dates, with a year always: 2025-03-10 (or 2025/03/10), 24/03/2025 or 24.03.2025 (day first, as in
# Europe; month first only when the first number cannot be a month), 1 April 2025, April 1, 2025.
_DATES: Final = (
    (re.compile(r"\b(20\d\d)[-/.](\d{1,2})[-/.](\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.](20\d\d)\b"), "dmy"),
    (re.compile(rf"\b{_DAY_OF_MONTH}\s+(?:of\s+)?{_MONTH},?\s+(20\d\d)\b", re.IGNORECASE), "d month y"),
    (re.compile(rf"\b{_MONTH}\s+(?:the\s+)?{_DAY_OF_MONTH},?\s+(20\d\d)\b", re.IGNORECASE), "month d y"),
)
_HOUR_WORDS: Final = r"(?:(?:man|person|inspection|inspector|ndt|testing|test|ut|rt)[\s-]+)?"
# An amount of hours ("40 hours", "40 h", "40-hour", "30 NDT hours"): an inspection budget, or a duration
_HOURS: Final = re.compile(
    r"\b(\d+(?:\.\d+)?|"
    + "|".join(w for w in _NUMBER_WORDS if len(w) > 2)
    + r")\s*-?\s*"
    + _HOUR_WORDS
    + r"(?:hours?|hrs?|h)\b",
    re.IGNORECASE,
)
# Inspection hours named before their amount: "inspection hours available on B010: 90", "NDT hours = 40"
_HOURS_NAMED: Final = re.compile(
    r"\b(?:inspection|inspector|ndt|testing|test|ut|rt)[\s-]+(?:hours?|hrs?)\b(?:[\s,]+[\w'-]+){0,5}?\s*"
    r"(?::|=|\bis\b|\bare\b|\bof\b)\s*(\d{1,5}(?:\.\d+)?)(?!\.\d|[\w%-]|\s*(?:%|percent|per cent|days?|weeks?)\b)",
    re.IGNORECASE,
)
# What says the question is about inspecting (so hours or joints are its budget)
_INSPECTION: Final = re.compile(
    r"\b(ndt|inspect\w*|x-?ray\w*|ut|rt|mt|pt|radiograph\w*|ultrason\w*|test(s|ed|ing)?|check\w*|examin\w*"
    r"|scan\w*|budget\w*|sampl\w*|non[- ]?destructive|qc|shoot|shot(?![\s-]*(peen|blast))|shooting)\b",
    re.IGNORECASE,
)
# What says something is down or late (so an amount of hours is how long)
_DOWN_OR_LATE: Final = re.compile(
    r"\b(outages?|down|late|later|delay\w*|closed|closure|shut\w*|stop\w*|maintenance|breaks?|broke|broken"
    r"|fail\w*|unavailab\w*|out of (service|action|order|use)|lose|lost|losing|behind|slips?|slipping|offline"
    r"|overhaul|repairs?|standstill|stoppage|idle)\b",
    re.IGNORECASE,
)
_JOINT_COUNT: Final = re.compile(
    r"\b(\d{1,5}|" + "|".join(w for w in _NUMBER_WORDS if len(w) > 2) + r")\s+(?:of\s+(?:the|its|their)\s+)?"
    r"(?:(?:most\s+)?(?:riskiest|risky|high[\s-]*risk|highest[\s-]*risk|worst|critical|likely)\s+)?"
    r"(?:weld(?:ed)?\s+|butt\s+|fillet\s+)?(joints?|welds?|seams?)\b"
    r"|\b(?:inspect|test|x-?ray|radiograph|scan|check|examine|pick|select|choose|sample|cover|ut)\s+(?:only\s+|just\s+)?"
    r"(\d{1,5})\b(?!\s*(?:%|percent|per cent|pct|h\b|hours?|hrs?|days?|weeks?|mm)|[.\d-])",
    re.IGNORECASE,
)
_FRACTIONS: Final = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1, "twentieth": 0.05}
# A share of the joints said in words: "a tenth of the welds", "half the joints", "one in ten joints", "every 20th weld"
_SHARE: Final = re.compile(
    r"\b(?:(?:a|one)\s+(half|third|quarter|fifth|tenth|twentieth)|half)\s+(?:of\s+)?(?:the\s+|its\s+|their\s+|all\s+)?"
    r"(?:[\w-]+\s+)?(?:joints?|welds?|seams?)\b"
    r"|\b(one|1)\s+(?:in|out of)\s+(\d{1,3}|ten|five|twenty|four|three)\s+(?:joints?|welds?|seams?)\b"
    r"|\bevery\s+(?:(\d{1,3})(?:st|nd|rd|th)|(tenth|fifth|twentieth|third|fourth))\s+(?:joint|weld|seam)\b",
    re.IGNORECASE,
)
# ---- cross-model what-ifs: how much longer welding takes, how much more rework there is ----
_WELDING_SUBJECT: Final = re.compile(r"\bweld\w*", re.IGNORECASE)
_REWORK_SUBJECT: Final = re.compile(r"\bre-?work\w*", re.IGNORECASE)
_SUBJECTS: Final = (("welding", _WELDING_SUBJECT), ("rework", _REWORK_SUBJECT))
# "productivity drops 20 %": the time goes the other way
_INVERSE: Final = re.compile(r"\b(productivity|efficiency|speed|output|throughput|pace|rate of progress)\b", re.I)
# a change said of something other than the work: "20 % more budget", "10 % more joints"
_OF_SOMETHING_ELSE: Final = re.compile(
    r"\s+(?:of\s+the\s+)?(?:budget|money|cost|costs|inspections?|inspectors?|joints?|seams?|capacity|ndt|tests?|testing"
    r"|samples?)\b",
    re.IGNORECASE,
)
_CLAUSE_END: Final = re.compile(r"[,;:?!]|\.(?!\d)|\b(?:and|but|while|whereas|plus|then)\b", re.IGNORECASE)
_AMOUNT: Final = (
    r"(?:(\d+(?:\.\d+)?|" + "|".join(w for w in _NUMBER_WORDS if len(w) > 2) + r")\s*(?:%|percent\b|per cent\b|pct\b)"
    r"|(?:a|one)\s+(half|third|quarter|fifth|tenth))"
)
_MORE: Final = (
    r"(?:longer|slower|more|higher|greater|worse|extra|bigger|larger|up|increase[sd]?|increasing|rises?|rising|rose"
    r"|grows?|growing|grew|goes up|go up|went up|raised?|climbs?|jumps?|added|overruns?|overran|overrunning"
    r"|overshoots?|overshot)"
)
_LESS: Final = (
    r"(?:shorter|faster|quicker|less|lower|fewer|smaller|better|down|decrease[sd]?|decreasing|falls?|falling|fell"
    r"|drops?|dropping|dropped|reduced?|reduction|cut|shrinks?|improves?|improved|goes down|go down|went down)"
)
# (pattern, direction): the amount before or after its direction, or a verb, its object and "by" the amount
_CHANGES: Final = (
    (
        re.compile(
            rf"\b(?:speed(?:s|ed|ing)? up|accelerat\w*|cut(?:s|ting)?|reduc\w*|lower(?:s|ed|ing)?|decreas\w*)\b"
            rf"[^,;:.?!]{{0,40}}?\bby\s+{_AMOUNT}",
            re.IGNORECASE,
        ),
        -1,
    ),
    (
        re.compile(
            rf"\b(?:slow(?:s|ed|ing)? down|increas\w*|rais\w*|extend\w*|lengthen\w*|inflat\w*)\b"
            rf"[^,;:.?!]{{0,40}}?\bby\s+{_AMOUNT}",
            re.IGNORECASE,
        ),
        1,
    ),
    (re.compile(rf"{_AMOUNT}\s+{_MORE}\b", re.IGNORECASE), 1),
    (re.compile(rf"{_AMOUNT}\s+{_LESS}\b", re.IGNORECASE), -1),
    # an amount over or under what was planned: "runs 20 % over", "came in 5 % under"
    (re.compile(rf"{_AMOUNT}\s+(?:over|above|overrun|overshoot)\b", re.IGNORECASE), 1),
    (re.compile(rf"{_AMOUNT}\s+(?:under|below|underrun)\b", re.IGNORECASE), -1),
    # a signed amount: "welding hours +25 %", "rework -10 %"
    (re.compile(rf"(?:^|(?<=[\s(:]))\+\s?{_AMOUNT}", re.IGNORECASE), 1),
    (re.compile(rf"(?:^|(?<=[\s(:]))[-−–]\s?{_AMOUNT}", re.IGNORECASE), -1),
    (re.compile(rf"\b{_MORE}\s+(?:by\s+)?(?:about\s+|around\s+|roughly\s+)?{_AMOUNT}", re.IGNORECASE), 1),
    (re.compile(rf"\b{_LESS}\s+(?:by\s+)?(?:about\s+|around\s+|roughly\s+)?{_AMOUNT}", re.IGNORECASE), -1),
)
_FROM_TO: Final = re.compile(
    r"\bfrom\s+(\d+(?:\.\d+)?)\s*(?:%|percent|per cent)?\s+to\s+(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)",
    re.IGNORECASE,
)
_MULTIPLES: Final = (
    (re.compile(r"\bhalf\s+again\b|\b(?:one and a half|1\.5)\s+times\b", re.IGNORECASE), 1.5),
    (re.compile(r"\b(?:up|increases?d?|rises?|grows?|goes up)\s+by\s+(?:a\s+)?half\b", re.IGNORECASE), 1.5),
    (
        re.compile(
            r"\bdoubl(?:es|ed|ing)\b|\bdouble\b(?!-)(?=\s*(?:[,.;?!)]|$|\s+(?:the|its|their|in|on|for|if|and|from|at"
            r"|as|when|over|during|with|what)\b))|\btwice\s+as\b|\btwice\s+(?:the|its|their|what)\b"
            r"|\b(?:two|2)\s+times\b",
            re.IGNORECASE,
        ),
        2.0,
    ),
    (re.compile(r"\btripl(?:es|ed|ing|e)\b(?!-)|\b(?:three|3)\s+times\b|\bthrice\b", re.IGNORECASE), 3.0),
    (re.compile(r"\bquadrupl(?:es|ed|ing|e)\b|\b(?:four|4)\s+times\b", re.IGNORECASE), 4.0),
    (
        re.compile(
            r"\bhalv(?:es|ed|ing)\b|\bhalve\b|\b(?:cut|drops?|falls?|reduced?|goes down|down)\s+(?:by\s+)?"
            r"(?:a\s+)?half\b|\bin\s+half\b|\bhalf\s+as\s+(?:long|much|many|high|often)\b",
            re.IGNORECASE,
        ),
        0.5,
    ),
    (re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:x|×|times)(?=\s|$|[,.;?!])(?!\s*(?:days?|weeks?))", re.IGNORECASE), 0.0),
    (re.compile(r"(?:\bx|×|\bfactor(?:\s+of)?)\s*(\d+(?:\.\d+)?)\b", re.IGNORECASE), 0.0),
)
# A resource number, never a duration: "dock 1" names the dock, "dock 3 days" says how long.
_RES_NUM: Final = (
    r"\s*(?:no\.?\s*|number\s+|#\s*)?(\d{1,2}|one|two|three|four|five|six|seven|eight|nine)"
    r"(?![\s-]*(?:working[\s-]+|calendar[\s-]+)?(?:days?|weeks?|months?|hours?|hrs?|h|%|percent|per cent)\b)(?![\d.])"
)


class Step(BaseModel):
    """One tool call."""

    model_config = ConfigDict(frozen=True)

    tool: str
    args: dict[str, JsonValue] = Field(default_factory=dict)


class Entities(BaseModel):
    """What the question names, exactly as it names it (None where it names nothing)."""

    model_config = ConfigDict(frozen=True)

    codes: list[str] = Field(default_factory=list)
    """Yard codes (blocks, assemblies, parts, joints, outfitting items, work packages) as the yard spells them."""
    roles: list[str] = Field(default_factory=list)
    """What each code is: its role (block, joint, work_package, ...) or the yard's kind, in the order of `codes`."""
    spans: list[tuple[int, int, str]] = Field(default_factory=list)
    """Where the question names each code, resource and zone: (start, end, role), in question order."""
    budget: float | None = None
    """An inspection budget, as a fraction (from "5 %")."""
    days: int | None = None
    """A duration in days (from "3 days", "a week", "two weeks")."""
    start_day: int | None = None
    """A schedule day (from "from day 10")."""
    start_date: date | None = None
    """A calendar date (from "2025-03-10")."""
    resource: str | None = None
    """A yard resource, as the yard names it (from its id, or its kind and number: "panel line 2")."""
    zone: str | None = None
    """An outfitting zone, as the yard names it."""
    budget_hours: float | None = None
    """An inspection budget in hours (from "40 hours of inspection", "budget 40 h", "30 NDT hours")."""
    budget_joints: int | None = None
    """An inspection budget in joints (from "inspect 50 joints", "the 20 riskiest welds")."""
    welding_factor: float | None = None
    """A factor on welding hours in a what-if (from "welding takes 20 % longer" -> 1.2, "10 % faster" -> 0.9)."""
    rework_factor: float | None = None
    """A factor on outfitting rework in a what-if (from "rework doubles" -> 2.0, "halves" -> 0.5)."""


Refusal: TypeAlias = Literal["out_of_scope", "destructive", "unplaceable"]
"""Why a plan answers nothing: the question is not about the yard (`out_of_scope`); it asks to delete, reset or
overwrite data, which nothing here ever does (`destructive`); or it is a yard question that lacks what it needs, a
code or a duration (`unplaceable`: the plan's reason says exactly what)."""


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
    refusal: Refusal | None = None
    """Why nothing runs for the question, when the planner refuses it (then the intent is "unknown", no steps)."""
    suggestions: list[str] = Field(default_factory=list)
    """Questions that can be asked instead, most relevant first (with a refusal; the answer shows two or three)."""

    @property
    def codes(self) -> list[str]:
        """The yard codes the question names."""
        return self.entities.codes


def extract_percent(question: str) -> float | None:
    """A percentage in the question that is an inspection budget, as a fraction.

    A percentage that says how much longer welding takes or how much rework grows ("20 % longer", "up 50 %") is a
    factor (`extract_factors`), never a budget.
    """
    taken = extract_factors(question).spans
    for match in _PERCENT.finditer(question):
        if any(a <= match.start() < b for a, b in taken):
            continue
        word = match.group(1)
        return (float(word) if word[0].isdigit() else _NUMBER_WORDS[word.lower()]) / 100.0
    return None


def _share(question: str) -> float | None:
    """A share of the joints said in words: "a tenth of the welds" -> 0.1, "one in twenty joints" -> 0.05."""
    match = _SHARE.search(question)
    if match is None:
        return None
    fraction, one, of, nth, nth_word = match.groups()
    if fraction:
        return _FRACTIONS[fraction.lower()]
    if one:
        return 1 / _number(of)
    if nth:
        return 1 / int(nth) if int(nth) > 0 else None
    if nth_word:
        return 1 / {"third": 3, "fourth": 4, "fifth": 5, "tenth": 10, "twentieth": 20}[nth_word.lower()]
    return 0.5  # "half the joints"


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word.lower()]


def extract_days(question: str) -> int | None:
    """A duration in the question, in days ("3 days", "a week", "two weeks", "3 wks", "a fortnight", "1 month" = 30)."""
    for match in _DURATION.finditer(question):
        before = question[: match.start()].rstrip().lower()
        if match.group(1) and before.endswith("day"):  # "day 10 days": the number belongs to the day before it
            continue
        if match.group(4):
            return 14
        if match.group(6):  # "a couple of days / weeks"
            return 2 * {"day": 1, "week": 7}[match.group(7).lower()]
        return _number(match.group(1)) * {"day": 1, "week": 7, "wk": 7, "month": 30}[match.group(2).lower()]
    return None


class Factors(BaseModel):
    """The factors a cross-model what-if names, and where the question says them."""

    model_config = ConfigDict(frozen=True)

    welding: float | None = None
    rework: float | None = None
    unattributed: float | None = None
    """A change the question names without saying of what ("what if it takes 20 % longer?")."""
    spans: list[tuple[int, int]] = Field(default_factory=list)
    """(start, end) of every change found: a percentage inside one is no inspection budget."""


_SCENARIO: Final = re.compile(
    r"\b(if|what if|suppose|supposing|assume|assuming|imagine|scenario|simulat\w*|hypothetical\w*|would|were"
    r"|in case|adopt\w*|official\w*|commit\w*|lock(?:ed)? in|apply|impact|effect|slips?|moves?|happens?"
    r"|consequences?|finish\w*|deliver\w*|makespan|schedule|erections?|earlier|later|gain\w*|when|say|let's say"
    r"|sooner|pull\w* (?:in|forward)|bring\w* forward|knock-?on|ripple|affect\w*|shift\w*|sequence|end date)\b"
    # an order to change the work ("cut outfitting rework by 30 % on B023"): a scenario by itself
    r"|^\W*(?:(?:please|now|then|ok|okay)\W+)?(?:cut|reduce|raise|increase|speed up|slow down|lower|add|double"
    r"|halve|triple|make)\b",
    re.IGNORECASE,
)


def _found_changes(question: str) -> list[tuple[int, int, float, bool]]:
    """Every match of a change: (start, end, factor, said as a multiple), overlapping ones included."""
    found: list[tuple[int, int, float, bool]] = []
    for pattern, direction in _CHANGES:
        for m in pattern.finditer(question):
            number, fraction = m.group(1), m.group(2)
            if number is not None:
                share = (float(number) if number[0].isdigit() else _NUMBER_WORDS[number.lower()]) / 100.0
            else:
                share = _FRACTIONS[fraction.lower()]
            found.append((m.start(), m.end(), 1.0 + direction * share, False))
    for m in _FROM_TO.finditer(question):  # "goes from 10 to 20 %": the ratio
        was, now = float(m.group(1)), float(m.group(2))
        if was > 0:
            found.append((m.start(), m.end(), now / was, True))
    for pattern, value in _MULTIPLES:
        for m in pattern.finditer(question):
            factor = value or float(m.group(1))
            if re.match(r"\s*(?:as\s+)?(?:fast|quick)", question[m.end() :], re.IGNORECASE):
                factor = 1.0 / factor  # "twice as fast": half the time
            found.append((m.start(), m.end(), factor, True))
    return sorted(found, key=lambda f: (f[0], f[0] - f[1]))


def _changes(question: str) -> list[tuple[int, int, float]]:
    """Every change the question names ("20 % longer", "doubles", "x1.5"), as (start, end, factor), in order.

    Of overlapping ones the first and longest counts; in a clause about productivity or speed the time goes the
    other way.
    """
    kept: list[tuple[int, int, float]] = []
    for start, end, factor, multiple in _found_changes(question):
        if kept and start < kept[-1][1]:
            continue
        clause = question[_clause(question, start, end)[0] : start]
        if _INVERSE.search(clause):  # "productivity drops 20 %": welding takes longer
            factor = 1.0 / factor if multiple else 2.0 - factor
        if factor > 0:
            kept.append((start, end, round(factor, 6)))
    return kept


def _clause(question: str, start: int, end: int) -> tuple[int, int]:
    """The clause around question[start:end]: from the last separator before it to the first after it."""
    before = [m.end() for m in _CLAUSE_END.finditer(question, 0, start)]
    after = _CLAUSE_END.search(question, end)
    return (before[-1] if before else 0), (after.start() if after else len(question))


def _subject(question: str, start: int, end: int) -> str | None:
    """What a change at question[start:end] is of: "welding" or "rework", the nearest one said in its clause."""
    lo, hi = _clause(question, start, end)
    # before it, or inside it ("speed up welding on B011 by 10 %")
    named = [(m.start(), "welding") for m in _WELDING_SUBJECT.finditer(question, lo, end)]
    named += [(m.start(), "rework") for m in _REWORK_SUBJECT.finditer(question, lo, end)]
    if named:
        return max(named)[1]
    later = [(m.start(), "welding") for m in _WELDING_SUBJECT.finditer(question, end, hi)]
    later += [(m.start(), "rework") for m in _REWORK_SUBJECT.finditer(question, end, hi)]
    return min(later)[1] if later else None


def extract_factors(question: str, asks_what_happens: bool = True) -> Factors:
    """How much longer welding takes and how much rework grows, in a what-if ("if welding on B012 takes 20 % longer").

    A change counts only in a question that asks what happens (if, suppose, what slips, ...), and belongs to the
    welding or rework its clause names ("welding takes 20 % longer and rework doubles": both). Said of neither it
    is `unattributed` (a follow-up may know which). The first change of each kind wins.

    Args:
        question: the question, as asked.
        asks_what_happens: count a change only in a question that asks what happens (False: a follow-up of a
            what-if, "and 30 % longer?").
    """
    if asks_what_happens and not _SCENARIO.search(question):
        return Factors()
    welding = rework = unattributed = None
    spans = []
    for start, end, factor in _changes(question):
        if _OF_SOMETHING_ELSE.match(question, end):  # "20 % more budget": a change of the budget, not of the work
            continue
        subject = _subject(question, start, end)
        if subject is None:
            named = {kind for kind, said in _SUBJECTS if said.search(question)}
            subject = named.pop() if len(named) == 1 else None
        if subject == "welding" and welding is None:
            welding = factor
        elif subject == "rework" and rework is None:
            rework = factor
        elif subject is None and unattributed is None:
            unattributed = factor
        else:
            continue
        spans.append((start, end))
    return Factors(welding=welding, rework=rework, unattributed=unattributed, spans=spans)


def extract_date(question: str) -> date | None:
    """The first calendar date the question names with its year, None when there is none or it is no real day.

    2025-03-10, 24/03/2025, 24.03.2025, 1 April 2025, March 10, 2025; "2025-02-30" names no day and is left out.
    """
    found: list[tuple[int, int, int, int]] = []  # (position, year, month, day)
    for pattern, order in _DATES:
        for m in pattern.finditer(question):
            a, b, c = m.groups()
            if order == "ymd":
                found.append((m.start(), int(a), int(b), int(c)))
            elif order == "dmy":
                day, month = int(a), int(b)
                if month > 12 >= day:  # 03/24/2025 can only be month first
                    day, month = month, day
                found.append((m.start(), int(c), month, day))
            elif order == "d month y":
                found.append((m.start(), int(c), _MONTHS[b.lower()], int(a)))
            else:
                found.append((m.start(), int(c), _MONTHS[a.lower()], int(b)))
    for _, year, month, day in sorted(found):
        try:
            return date(year, month, day)
        except ValueError:  # names no day: leave it out rather than guess
            return None
    return None


def extract_hours(question: str) -> float | None:
    """The first amount of hours the question names ("40 hours", "40 h", "30 NDT hours"), whatever it is of."""
    match = _HOURS.search(question)
    if match is None:
        return None
    word = match.group(1)
    return float(word) if word[0].isdigit() else float(_NUMBER_WORDS[word.lower()])


def _hours(question: str, days: int | None) -> tuple[float | None, int | None]:
    """An amount of hours: an inspection budget (said with inspecting), or a duration in whole days.

    As a duration only when it is said of something down or late and no duration in days is given: whole days,
    rounded up, since a day the resource is down for part of is lost ("48 hour outage" -> 2 days, 12 hours -> 1).
    """
    match = _HOURS.search(question)
    if match is None:
        named = _HOURS_NAMED.search(question)
        return (float(named.group(1)) if named is not None else None), days
    hours = extract_hours(question) or 0.0
    near = question[max(0, match.start() - 30) : match.end() + 25]
    if _INSPECTION.search(near) or (_INSPECTION.search(question) and not _DOWN_OR_LATE.search(question)):
        return hours, days
    if days is None and _DOWN_OR_LATE.search(question) and hours > 0:
        return None, math.ceil(hours / 24 - 1e-9)
    return None, days


MAX_WHAT_IF_DAYS: Final = 365
"""The longest a what-if's resource is down or its code late, in days (`brain.tools.schedule.WhatIfArgs.days`)."""
LAST_START_DAY: Final = 3650
"""The last schedule day a what-if may start on (`brain.core.context.HORIZON_DAYS`, ten years after day 0)."""
_WORD_NUMBER: Final = (
    r"\b(?:" + "|".join(sorted((w for w in _NUMBER_WORDS if len(w) > 2), key=len, reverse=True)) + r")\b"
)
_MINUS: Final = r"(?P<minus>(?<![\w.,\-\u2212\u2013])[-\u2212\u2013]\s?|\bminus\s+|\bnegative\s+)?"
# a number as said, whole: its sign, thousands, decimals and exponent ("-4", "4.5", "1,000", "1e308", "four")
_SAID: Final = (
    _MINUS + r"(?P<number>(?<![\w.,])\d+(?:,\d{3})*(?:[.,]\d+)?(?:e[-+]?\d+)?(?![\w.,]*\d)|" + _WORD_NUMBER + ")"
)
_AMOUNT_SAID: Final = re.compile(
    _SAID
    + r"(?:(?:[\s-]+|(?<=\d))(?:working[\s-]+|calendar[\s-]+|full[\s-]+)?(?P<days>day|week|wk|month)s?\b"
    + r"|\s*-?\s*"
    + _HOUR_WORDS
    + r"(?P<hours>hours?|hrs?|h)\b"
    + r"|\s*(?P<percent>%|percent\b|per cent\b|pct\b))",
    re.IGNORECASE,
)
_START_SAID: Final = re.compile(_STARTING + _SAID, re.IGNORECASE)
_UNIT_DAYS: Final = {"day": 1, "week": 7, "wk": 7, "month": 30}


def _said_value(number: str) -> float:
    """A number as `_SAID` found it, read exactly: digits (with thousands, decimals or exponent) or a word."""
    if not number[0].isdigit():
        return float(_NUMBER_WORDS[number.lower()])
    if re.fullmatch(r"\d+(?:,\d{3})+", number):  # thousands: "1,000"
        return float(number.replace(",", ""))
    return float(number.replace(",", "."))  # a decimal comma: "4,5"


def amount_problem(question: str) -> str | None:
    """What makes an amount the question says unreadable as it is said, None when every one reads exactly.

    A negative amount ("late by -4 days", "-5 hours"; a percentage that changes the work, "welding -10 %", is read
    with its sign by `extract_factors`), part of a day ("4.5 days": a what-if counts whole days),
    a number in exponent form ("1e308 %"), no time at all ("0 days"), longer than a what-if covers
    (`MAX_WHAT_IF_DAYS`: "100000 days", or hours of an outage that make more days) or a start past the schedule's
    horizon (`LAST_START_DAY`: "from day 99999"). Such an amount is refused naming it, never read as another number.
    """
    changes: list[tuple[int, int]] | None = None
    for match in _AMOUNT_SAID.finditer(question):
        if match.group("percent"):
            changes = extract_factors(question).spans if changes is None else changes
            if any(a <= match.start("number") < b for a, b in changes):
                continue  # "welding -10 %": a change of the work, read with its sign (`extract_factors`)
        problem = _amount_problem(match)
        if problem is not None:
            return problem
    for match in _START_SAID.finditer(question):
        problem = _start_problem(match)
        if problem is not None:
            return problem
    hours = _HOURS.search(question)
    if hours is not None and extract_days(question) is None:
        _, days = _hours(question, None)
        if days is not None and days > MAX_WHAT_IF_DAYS:
            said = hours.group(0).strip()
            return f"'{said}' is {days:,} days: longer than a what-if covers, at most {MAX_WHAT_IF_DAYS} days"
    return None


def _amount_problem(match: re.Match[str]) -> str | None:
    """What is wrong with an amount of days, hours or percent as `_AMOUNT_SAID` found it, None when nothing."""
    said = match.group(0).strip()
    number = match.group("number")
    if match.group("minus"):
        return f"'{said}' is negative: say how much as a positive number"
    if number[0].isdigit() and "e" in number.lower():
        return f"'{said}' is a number in exponent form: say it in plain digits"
    unit = match.group("days")
    if unit is None:  # hours or a percentage: any positive amount reads exactly
        return None
    days = _said_value(number) * _UNIT_DAYS[unit.lower()]
    if days != int(days):
        low = math.floor(days)
        whole = f"{_whole_days(low)} or {_whole_days(low + 1)}"
        as_days = "" if unit.lower() == "day" else f" is {days:g} days"
        return f"'{said}'{as_days}: a what-if counts whole days, so say {whole}"
    if days < 1:
        return f"'{said}' is no time at all: a what-if needs at least 1 day"
    if days > MAX_WHAT_IF_DAYS:
        return f"'{said}' is longer than a what-if covers: at most {MAX_WHAT_IF_DAYS} days"
    return None


def _start_problem(match: re.Match[str]) -> str | None:
    """What is wrong with a start day as `_START_SAID` found it ("from day -10"), None when nothing."""
    said = match.group(0).strip()
    if match.group("minus"):
        return f"'{said}' is before day 0, where the schedule starts"
    value = _said_value(match.group("number"))
    if value != int(value):
        return f"'{said}' is no schedule day: days are whole numbers"
    if value > LAST_START_DAY:
        return f"'{said}' is past the schedule's horizon, day {LAST_START_DAY} (ten years after day 0)"
    return None


def _whole_days(n: int) -> str:
    return "'1 day'" if n == 1 else f"'{n} days'"


_SELECTING: Final = re.compile(r"\b(pick|choose|select|riskiest|top|afford|cover|worst|highest)\b", re.IGNORECASE)


def _joint_count(question: str) -> int | None:
    """A number of joints to inspect ("inspect 50 joints", "the 20 riskiest welds"), said with inspecting."""
    if not (_INSPECTION.search(question) or _SELECTING.search(question)):
        return None
    shares = [(m.start(), m.end()) for m in _SHARE.finditer(question)]
    for match in _JOINT_COUNT.finditer(question):
        if match.start() > 0 and question[match.start() - 1] in "-/.":  # a code's or a date's digits
            continue
        if any(a <= match.start() < b for a, b in shares):  # "one in ten joints" is a share
            continue
        word = match.group(1) or match.group(3)
        count = _number(word)
        return count if count > 0 else None
    return None


def extract_entities(question: str, names: Names | None = None) -> Entities:
    """Every entity the question names.

    Args:
        question: the question, as asked.
        names: the yard's vocabulary (`brain.lexicon.Lexicon`): codes, resources and zones are found by lookup in
            it, as the yard spells them. Without one (no yard at hand) the question names no code, resource or zone:
            nothing here knows what a yard's ids look like.
    """
    if amount_problem(question) is not None:  # an amount read as another would be worse than none: none is read
        start, budget_hours, days, budget = None, None, None, None
    else:
        start = _START_DAY.search(question)
        budget_hours, days = _hours(question, extract_days(question))
        budget = extract_percent(question)
    factors = extract_factors(question)
    # a resource is named once, as the question's resource, never also as a code (its id is a node of the yard's)
    mentions = [m for m in names.codes(question) if m.role != "resource"] if names is not None else []
    resource = names.resource(question) if names is not None else None
    zone = names.zone(question) if names is not None else None
    spans = sorted((m.start, m.end, m.role) for m in [*mentions, *(x for x in (resource, zone) if x is not None)])
    return Entities(
        codes=[m.text for m in mentions],
        roles=[m.role for m in mentions],
        spans=spans,
        budget=budget if budget is not None else _share(question),
        days=days,
        start_day=int(start.group(1)) if start else None,
        start_date=extract_date(question),
        resource=resource.text if resource is not None else None,
        zone=zone.text if zone is not None else None,
        budget_hours=budget_hours,
        budget_joints=_joint_count(question),
        welding_factor=factors.welding,
        rework_factor=factors.rework,
    )
