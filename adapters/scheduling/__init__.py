"""The scheduling reference model: work packages and yard resources to a schedule, with OR-Tools CP-SAT.

Durations come from the welding and outfitting predictions (hours per work package: `predicted_hours`),
precedences from the edges between the yard's work package nodes (`package_order`: in a yard like the synthetic
one, each block's trades in turn and its erection after the blocks it rests on), capacities from the yard's
resources (panel lines, workshops, halls, cranes, docks). Everything is read from an imported yard's roles
(`knowledge.store.YardStore`: work_package, resource), never assumed: the trades and the kind of resource each
runs on are read off the packages themselves (`yard_trades`), the resources off the resource role
(`yard_resources`). `solve` minimises the makespan within a time limit and reports the proven bound, the
optimality gap and the critical path.

```python
from knowledge.store import YardStore
from adapters.scheduling import predicted_hours, request_from_yard, solve

yard = YardStore.open(".shipbrain/yards/hull-1042")
request = request_from_yard(yard, hours=predicted_hours(yard, executor), time_limit_s=60)
schedule = solve(request)
schedule.makespan_days, schedule.gap, schedule.critical_path[-3:]
```

Time is in whole **working** days from day 0; a task runs from `start_day` up to (not including) `finish_day`.
The yard's calendar (`WorkCalendar.of(yard)`) maps them to dates: the whole yard's days off (Sundays, holidays)
are no schedule days, and a resource's days out of service (a dock's maintenance week) become its downtimes in
every request `request_from_yard` builds. A yard without a calendar works every day: day k is `day0` + k.
By default a task may move to another resource of the kind it names (`resource_choice="same_kind"`:
either panel line, any workshop), as a yard planner would; `"named"` pins it. Cranes are never moved.

What-ifs: `ScheduleRequest.downtimes` takes resources out of service for some days (`ResourceDowntime`;
work packages are not interrupted, so one that needs the resource runs wholly before or after the
outage, or moves to another resource of the kind), and a task's `release_day` holds it until material
arrives; `request_from_yard(..., downtimes=..., release_days=...)` builds both from a yard:

```python
late = request_from_yard(yard, hours, downtimes=[ResourceDowntime(resource="PL-2", start_day=10, days=3)],
                         release_days={"WP-DB09-FAB": 5})
solve(late).critical_path  # ("DOWN:PL-2", "WP-DB10-FAB", ...) when the outage sets the end date
```

A resource a task names as its `crane` is a crane by that declaration, whatever kind the yard gives it.

Errors: constructing a request that cannot be (unknown codes, a cycle, an unknown resource or one of
the wrong kind, a negative duration, a downtime of an unknown resource) raises `SchedulingInputError` (an
`AdapterInputError`) with one line naming the problem; `model_validate` raises pydantic's `ValidationError`
carrying the same line.
`solve` raises `SchedulingInputError` when no schedule meets `horizon_days`, and `ModelTimeoutError`
when none was found in time (only possible with a `horizon_days` shorter than the greedy schedule).
"""

from adapters.scheduling._adapter import (
    ScheduledRow,
    SchedulingAdapter,
    WorkPackageRow,
    from_config,
    models_in_hours,
    overdrawn_packages,
    predicted_hours,
    with_yard_context,
)
from adapters.scheduling._calendar import CALENDAR_REASON, WorkCalendar
from adapters.scheduling._chain import ChainLink, chain_into
from adapters.scheduling._model import (
    OUTAGE_PREFIX,
    ResourceCapacity,
    ResourceChoice,
    ResourceDowntime,
    Schedule,
    ScheduledTask,
    ScheduleRequest,
    ScheduleTask,
    SchedulingInputError,
    YardTrade,
)
from adapters.scheduling._repair import repair
from adapters.scheduling._solve import solve
from adapters.scheduling._yard import (
    HOURS_PER_DAY,
    WorkPackages,
    package_order,
    request_from_yard,
    trade_order,
    work_package_rows,
    yard_resources,
    yard_trades,
)
from adapters.scheduling.validate import InvalidScheduleError, check_schedule, violations

__all__ = [
    "CALENDAR_REASON",
    "ChainLink",
    "HOURS_PER_DAY",
    "InvalidScheduleError",
    "OUTAGE_PREFIX",
    "ResourceCapacity",
    "ResourceChoice",
    "ResourceDowntime",
    "Schedule",
    "ScheduleRequest",
    "ScheduleTask",
    "ScheduledRow",
    "ScheduledTask",
    "SchedulingAdapter",
    "SchedulingInputError",
    "WorkPackageRow",
    "WorkCalendar",
    "WorkPackages",
    "YardTrade",
    "chain_into",
    "check_schedule",
    "from_config",
    "models_in_hours",
    "overdrawn_packages",
    "package_order",
    "predicted_hours",
    "repair",
    "request_from_yard",
    "solve",
    "trade_order",
    "violations",
    "with_yard_context",
    "work_package_rows",
    "yard_resources",
    "yard_trades",
]
