"""The scheduling model's request and answer as frozen pydantic models, and the checks a request must pass.

Time is counted in whole days from day 0, the first day of the schedule; a task occupies days
`start_day` to `finish_day - 1`, so a task of 3 days starting on day 0 finishes on day 3, when the
next one may start.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from adapters.errors import AdapterInputError

__all__ = [
    "MODEL",
    "OUTAGE_PREFIX",
    "ResourceCapacity",
    "ResourceChoice",
    "ResourceDowntime",
    "Schedule",
    "ScheduleRequest",
    "ScheduleTask",
    "ScheduledTask",
    "SchedulingInputError",
    "YardTrade",
    "order_or_cycle",
]

MODEL: Final = "scheduling"
"""The model name that errors carry."""

ResourceChoice = Literal["same_kind", "named"]

OUTAGE_PREFIX: Final = "DOWN:"
"""How `Schedule.critical_path` names an outage that holds up its first task: "DOWN:" and the resource."""


class SchedulingInputError(AdapterInputError):
    """A scheduling request that cannot be solved as asked: the message names the task, code or field."""

    model: Final = MODEL

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{MODEL}: {message}")

    def __reduce__(self) -> tuple[type[SchedulingInputError], tuple[str]]:
        return (type(self), (self.message,))


def _one_line(model: str, data: dict[str, Any], exc: ValidationError) -> str:
    """The first of pydantic's errors as one line that names the task it is about."""
    errors = exc.errors()
    err = errors[0]
    loc = list(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    inner = err.get("ctx", {}).get("error")
    if isinstance(inner, SchedulingInputError):  # raised by a nested model's own __init__: already one line
        return f"{model}: {'.'.join(str(p) for p in loc)}: {inner.message}" if loc else inner.message
    if not loc:  # a check across fields: its message already names what it is about
        return f"{model}: {msg}{more}"
    name = data.get("code", data.get("name", data.get("resource") if model == "ResourceDowntime" else None))
    where = model if name is None else f"{model} {name!r}"
    given = repr(err.get("input"))
    given = given if len(given) <= 60 else given[:57] + "..."
    return f"{where}: {'.'.join(str(p) for p in loc)}={given}: {msg}{more}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        # pydantic wraps every ValueError a validator raises in its ValidationError; callers get one typed error
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise SchedulingInputError(_one_line(type(self).__name__, data, exc)) from None


class ScheduleTask(_Frozen):
    """One work package to schedule."""

    code: str = Field(min_length=1)
    """Work package code (the yard's id), unique in the request (e.g. "WP-DB09-FAB")."""
    block: str | None = None
    """Code of the block the work package belongs to (e.g. "H1042/DB09"); for the reader only."""
    trade: str = Field(min_length=1)
    """The yard's trade (e.g. "hull fabrication"), one of the request's `trades` when it lists them."""
    duration_days: int = Field(ge=0)
    """Working time, whole days; 0 makes a milestone that occupies no resource."""
    resource: str | None = None
    """The resource the work package is planned on (of its trade's kind, see `ScheduleRequest.trades`), or None
    if it needs none. With `ScheduleRequest.resource_choice="same_kind"` the solver may move it to another
    resource of the same kind (it keeps this one when that is free)."""
    crane: str | None = None
    """The crane the work package needs for its whole duration (one of the request's resources), or None.
    A resource named as a task's crane is a crane by that declaration, whatever the yard calls its kind
    ("crane", "kran", "goliath"). Cranes are never swapped: which crane can lift a block depends on its weight,
    which is not modelled here, so a crane is never pooled with the other resources of its kind."""
    release_day: int = Field(default=0, ge=0)
    """Earliest start day (material or drawings not ready before), days from day 0."""


class YardTrade(_Frozen):
    """One of the yard's trades and the kind of resource its work packages run on (`yard_trades`: read off them)."""

    trade: str = Field(min_length=1)
    """The trade, e.g. "hull fabrication"."""
    resource_kind: str | None = None
    """The kind of resource its work packages run on, e.g. "panel line"; None when they need none."""


class ResourceCapacity(_Frozen):
    """A yard resource and how many work packages it takes at once."""

    name: str = Field(min_length=1)
    """Resource name, unique in the request (e.g. "PL-1")."""
    kind: str = Field(min_length=1)
    """The yard's kind of resource, free text, e.g. "panel_line" or "dock" (a crane is one because a task names it
    as its `crane`, not by its kind)."""
    capacity: int = Field(ge=1)
    """Work packages it can run at the same time."""


class ResourceDowntime(_Frozen):
    """A resource out of service for whole days: it runs nothing from `start_day` up to `end_day`.

    Work packages are not interrupted: one that needs the resource (as its resource or its crane) runs
    entirely before the outage or entirely after it. With `resource_choice="same_kind"` the others of its
    kind keep working, so a work package may move to one of them instead of waiting.
    """

    resource: str = Field(min_length=1)
    """Name of the resource that is down, one of the request's `resources` (e.g. "PL-2")."""
    start_day: int = Field(ge=0)
    """First day it is down, days from day 0."""
    days: int = Field(ge=1)
    """How many days it is down, whole days."""
    reason: str | None = None
    """Why, for the reader (e.g. "hydraulics repair"); the solver ignores it."""

    @property
    def end_day(self) -> int:
        """The day it is back in service: `start_day + days`."""
        return self.start_day + self.days


class ScheduleRequest(_Frozen):
    """Work packages, the resources they run on and what must finish before what."""

    tasks: tuple[ScheduleTask, ...] = Field(min_length=1)
    """The work packages to schedule."""
    resources: tuple[ResourceCapacity, ...] = ()
    """Every resource a task names (as `resource` or `crane`); others may be listed too."""
    trades: tuple[YardTrade, ...] = ()
    """The yard's trades: when given, every task's trade must be one of them and the resource it names of its
    trade's kind (none for a trade that runs on none). Empty: a task's resource is taken as named."""
    precedences: tuple[tuple[str, str], ...] = ()
    """(before_code, after_code) pairs: `after` starts no earlier than the day `before` finishes."""
    time_limit_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """Wall-clock budget of `solve`, seconds. CP-SAT gets what building the model and the greedy schedule
    (a fraction of a second at 1,000 tasks) leave, and at least 0.05 s."""
    workers: int = Field(default=2, ge=1, le=64)
    """CP-SAT search workers (threads)."""
    deterministic_limit: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """A budget in CP-SAT's deterministic time units, on top of `time_limit_s`: with `workers=1` it makes
    a solve that the limit cuts short reproducible, run after run (wall-clock limits cut wherever the
    machine happens to be)."""
    horizon_days: int | None = Field(default=None, ge=0)
    """Latest allowed finish, days; None lets the solver take the greedy schedule's makespan."""
    objective: Literal["makespan"] = "makespan"
    """What to minimise: the day the last task finishes."""
    resource_choice: ResourceChoice = "same_kind"
    """"same_kind": a task may run on any resource of the kind of the one it names (either panel line,
    any workshop), as a yard planner would do; "named": only on the one it names."""
    downtimes: tuple[ResourceDowntime, ...] = ()
    """Outages: each resource runs nothing during its downtimes. Downtimes of one resource may overlap or
    touch; it is then down on every day any of them covers (they are merged)."""

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleRequest:
        _check_unique("resource name", [r.name for r in self.resources])
        _check_unique("task code", [t.code for t in self.tasks])
        _check_unique("trade", [t.trade for t in self.trades])
        _check_resources(self.tasks, {r.name: r.kind for r in self.resources}, self.trades)
        _check_downtimes(self.downtimes, [r.name for r in self.resources])
        _check_precedences([t.code for t in self.tasks], self.precedences)
        return self


def _check_unique(what: str, names: list[str]) -> None:
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        others = f" (and {len(repeated) - 1} other {what}s)" if len(repeated) > 1 else ""
        raise ValueError(f"{what} {repeated[0]!r} appears more than once{others}")


def _check_resources(tasks: tuple[ScheduleTask, ...], kinds: dict[str, str], trades: tuple[YardTrade, ...]) -> None:
    known = ", ".join(kinds) or "none"
    trade_kind = {t.trade: t.resource_kind for t in trades}
    for t in tasks:
        if trades and t.trade not in trade_kind:
            raise ValueError(f"task {t.code!r}: trade {t.trade!r} is not among the trades ({', '.join(trade_kind)})")
        for role, name in (("resource", t.resource), ("crane", t.crane)):
            if name is None:
                continue
            if name not in kinds:
                raise ValueError(f"task {t.code!r} needs {role} {name!r}, which is not among the resources ({known})")
            if role == "resource" and trades and kinds[name] != trade_kind[t.trade]:
                want = trade_kind[t.trade]
                needed = f"not a {want}" if want else f"and {t.trade} needs none"
                raise ValueError(f"task {t.code!r} ({t.trade}): resource {name!r} is a {kinds[name]}, {needed}")


def _check_downtimes(downtimes: tuple[ResourceDowntime, ...], names: list[str]) -> None:
    known = set(names)
    for k, d in enumerate(downtimes):
        if d.resource not in known:
            raise ValueError(
                f"downtimes.{k}: resource {d.resource!r} is not among the resources ({', '.join(names) or 'none'})"
            )


def _check_precedences(codes: list[str], precedences: tuple[tuple[str, str], ...]) -> None:
    index = {code: i for i, code in enumerate(codes)}
    for before, after in precedences:
        for code in (before, after):
            if code not in index:
                raise ValueError(f"precedence ({before!r}, {after!r}) names {code!r}, which is not a task code")
    _, cycle = order_or_cycle(len(codes), [(index[b], index[a]) for b, a in precedences])
    if cycle:
        raise ValueError("precedences form a cycle: " + " -> ".join(codes[i] for i in [*cycle, cycle[0]]))


class ScheduledTask(_Frozen):
    """Where and when one work package runs."""

    code: str
    """Work package code, as in the request."""
    start_day: int
    """First working day, days from day 0."""
    finish_day: int
    """Day the work package is done: `start_day + duration_days` (the next task may start that day)."""
    resource: str | None
    """The resource it runs on (with `resource_choice="same_kind"`, possibly not the one it named)."""
    crane: str | None
    """The crane it holds, as in the request."""
    on_critical_path: bool
    """Part of `Schedule.critical_path`."""


class Schedule(_Frozen):
    """A feasible schedule of every task, with how good it is known to be."""

    tasks: tuple[ScheduledTask, ...]
    """One per requested task, in the request's order."""
    makespan_days: int
    """Day the last task finishes, days from day 0."""
    status: Literal["optimal", "feasible"]
    """"optimal": no schedule finishes earlier (proven); "feasible": the best found within the time limit."""
    objective: Literal["makespan"]
    """What was minimised."""
    best_bound: int
    """Proven lower bound on the makespan, days."""
    gap: float = Field(ge=0.0, le=1.0)
    """Relative optimality gap, (makespan - best_bound) / makespan; 0 when optimal."""
    solve_seconds: float
    """Wall-clock time `solve` took, seconds."""
    critical_path: tuple[str, ...]
    """Codes of the chain that sets the makespan, first to last: each starts the day the previous one finishes,
    waiting on it through a precedence or for its resource; the first starts on its release day, or, when an
    outage held it up, the day that outage ends. Such an outage leads the chain as a pseudo-entry naming the
    resource, `OUTAGE_PREFIX` + name: ("DOWN:PL-2", "WP-DB09-FAB", "WP-DB09-ASM", ...) reads "PL-2 is down,
    WP-DB09-FAB starts the day it is back, and the rest follows". It is never a task code and has no
    `ScheduledTask`; only the first entry can be one (an outage is fixed, nothing holds it up)."""


def order_or_cycle(n: int, edges: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Kahn's algorithm over nodes 0..n-1 (smallest ready index first, so the order is reproducible).

    Args:
        n: number of nodes.
        edges: (before, after) index pairs; duplicates are allowed.

    Returns:
        (order, cycle): every node in a topological order and an empty cycle, or, if the graph has a
        cycle, the nodes that could be ordered and one cycle as [a, b, ..., z] meaning a -> b -> ... -> z -> a.
    """
    succs: list[list[int]] = [[] for _ in range(n)]
    preds: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for u, v in set(edges):
        succs[u].append(v)
        preds[v].append(u)
        indegree[v] += 1
    ready = [i for i in range(n) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in succs[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                heapq.heappush(ready, v)
    if len(order) == n:
        return order, []
    # A node Kahn could not order still has a predecessor that could not be ordered either, so walking
    # back through such predecessors must revisit a node: the walk from that node on is a cycle.
    left = set(range(n)).difference(order)
    node, position, walk = min(left), dict[int, int](), list[int]()
    while node not in position:
        position[node] = len(walk)
        walk.append(node)
        node = min(p for p in preds[node] if p in left)
    return order, walk[position[node] :][::-1]
