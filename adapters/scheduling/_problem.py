"""A request in index form, and the scheduling that needs no solver.

- `serial_schedule`: the serial schedule-generation scheme. Given tasks in an order that puts every
  task after its predecessors, it starts each on the earliest day its predecessors, its release day
  and its resources (their outages included) allow. With the latest-finish priority it is the greedy
  start (an upper bound and a hint for CP-SAT); fed CP-SAT's tasks in order of start, each kept on the
  resource it had, it left-justifies CP-SAT's schedule: no task starts later than it did there (tasks
  placed before it on its resources only moved earlier, so they occupy no more of its old window, and
  outages stay where they are), and every start is explained by a predecessor, a resource, the end of
  an outage or the release day, which the critical path relies on.
- `greedy`: the better of two priority rules, each improved by forward-backward passes.
- `lower_bound`: the longest chain of work, and for each pool its work spread over its units of
  capacity, each unit busy no earlier than its first task can start and no later than its last task's
  tail allows; for a pool with outages, also its work against the capacity left on each day.
- `assign_slots`: which resource of a pool each task runs on (interval partitioning).
  (The critical path is read off the finished schedule by `adapters.scheduling._chain.chain_into`.)

Outages (`ScheduleRequest.downtimes`). A pool of one resource is simply full on the days it is down. A
pool of several resources (a kind, with `resource_choice="same_kind"`) with an outage is *split*: summed
capacity is no longer exact there (a task could fit the pool's free units only by hopping from one
resource to the other mid-run), so its tasks are placed on one resource each, here and in CP-SAT, and
`serial_schedule` returns that choice next to the start days. Pools without outages are as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from adapters.scheduling._model import ResourceDowntime, ScheduleRequest, order_or_cycle

__all__ = [
    "Days",
    "Pool",
    "Problem",
    "Resources",
    "assign_slots",
    "greedy",
    "lower_bound",
    "serial_schedule",
]

Days = npt.NDArray[np.int64]
Resources = list[str | None]
"""Per task, the resource it was placed on in a split pool (None for tasks outside split pools)."""
Outages = dict[str, list[tuple[int, int]]]
"""Per resource, the [start, end) days it is down: sorted, disjoint and not touching."""


@dataclass(frozen=True)
class Pool:
    """Capacity that tasks draw one unit of: a resource kind (its resources' capacities summed) or one resource."""

    name: str
    capacity: int
    slots: tuple[str, ...]
    """The resource behind each unit of capacity."""

    @property
    def resources(self) -> tuple[str, ...]:
        """The distinct resources behind its units, in order."""
        return tuple(dict.fromkeys(self.slots))


@dataclass(frozen=True)
class Problem:
    """A validated request as arrays over task indices (the request's order)."""

    codes: list[str]
    duration: Days
    release: Days
    preds: list[list[int]]
    succs: list[list[int]]
    order: list[int]
    """A topological order."""
    rank: Days
    """Each task's position in `order`: the tie-break that keeps predecessors first."""
    pools: list[Pool]
    needs: list[tuple[int, ...]]
    """Pool indices each task draws on (none for milestones: a zero-length task occupies nothing)."""
    resource_pool: list[int]
    """The pool of the task's resource (not its crane), -1 if it draws on none."""
    named: list[str | None]
    cranes: list[str | None]
    head: Days
    """Earliest start allowed by release days, precedences and the outages of the task's own resources."""
    tail: Days
    """Longest chain of work after the task finishes."""
    units: dict[str, int]
    """Capacity of each resource."""
    outages: Outages
    """Days each resource is down (resources never down are absent)."""
    down: list[list[tuple[int, int, int]]]
    """Per pool, its outages as (start, end, units of capacity lost)."""
    split: list[tuple[str, ...]]
    """Per pool, the resources a task must choose one of: a pool of several resources with an outage; else ()."""

    @classmethod
    def of(cls, request: ScheduleRequest) -> Problem:
        """Index form of a request (which pydantic has already checked)."""
        tasks = request.tasks
        n = len(tasks)
        index = {t.code: i for i, t in enumerate(tasks)}
        edges = sorted({(index[b], index[a]) for b, a in request.precedences})
        preds: list[list[int]] = [[] for _ in range(n)]
        succs: list[list[int]] = [[] for _ in range(n)]
        for u, v in edges:
            succs[u].append(v)
            preds[v].append(u)
        order, _ = order_or_cycle(n, edges)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        pools, pool_of = _pools(request)
        busy = [t.duration_days > 0 for t in tasks]
        needs = [
            tuple(pool_of[x] for x in (t.resource, t.crane) if x is not None and b)
            for t, b in zip(tasks, busy, strict=True)
        ]
        resource_pool = [
            pool_of[t.resource] if t.resource is not None and b else -1 for t, b in zip(tasks, busy, strict=True)
        ]
        duration = np.array([t.duration_days for t in tasks], dtype=np.int64)
        release = np.array([t.release_day for t in tasks], dtype=np.int64)
        units = {r.name: r.capacity for r in request.resources}
        outages = merged_outages(request.downtimes)
        down, split = _pool_outages(pools, outages, units)
        problem = cls(
            list(index),
            duration,
            release,
            preds,
            succs,
            order,
            rank,
            pools,
            needs,
            resource_pool,
            [t.resource for t in tasks],
            [t.crane for t in tasks],
            release.copy(),
            np.zeros(n, dtype=np.int64),
            units,
            outages,
            down,
            split,
        )
        head, tail = problem.head, problem.tail  # filled in place: the dataclass is frozen, its arrays are not
        for v in order:
            for u in preds[v]:
                head[v] = max(head[v], head[u] + duration[u])
            if outages and needs[v]:
                head[v] = problem.earliest_fit(v, int(head[v]))
        for u in reversed(order):
            for v in succs[u]:
                tail[u] = max(tail[u], duration[v] + tail[v])
        return problem

    @property
    def down_end(self) -> int:
        """The day the last outage ends, 0 without outages."""
        return max((ivs[-1][1] for ivs in self.outages.values()), default=0)

    def earliest_fit(self, i: int, t: int) -> int:
        """The first day from `t` on that task i could start given the outages alone (other tasks ignored)."""
        d = int(self.duration[i])
        moved = True
        while moved:
            moved = False
            for q in self.needs[i]:
                fit = min(_fit(self.outages.get(r, []), t, d) for r in self.pools[q].resources)
                if fit > t:
                    t, moved = fit, True
        return t

    def backwards(self, end: int) -> Problem:
        """The problem backwards in time from day `end`: successors first, outages mirrored, no release days.

        Release days are left out: the forward pass puts every task back after its own.
        """
        outages = {
            r: [(max(end - b, 0), end - a) for a, b in reversed(ivs) if end - a > 0] for r, ivs in self.outages.items()
        }
        outages = {r: ivs for r, ivs in outages.items() if ivs}
        down, _ = _pool_outages(self.pools, outages, self.units)
        return replace(
            self,
            preds=self.succs,
            succs=self.preds,
            release=np.zeros_like(self.release),
            order=self.order[::-1],
            rank=-self.rank,
            outages=outages,
            down=down,
        )

    def latest_finish_first(self) -> list[int]:
        """Tasks by decreasing length of the chain they start (a predecessor's is never shorter), then topologically."""
        return np.lexsort((self.rank, -(self.duration + self.tail))).tolist()

    def by_start(self, start: Days) -> list[int]:
        """Tasks by start day, predecessors first among equal starts (zero-length predecessors start the same day)."""
        return np.lexsort((self.rank, start)).tolist()


def merged_outages(downtimes: tuple[ResourceDowntime, ...]) -> Outages:
    """Per resource, its downtimes as sorted [start, end) day ranges, overlapping or touching ones merged."""
    by_resource: Outages = {}
    for d in sorted(downtimes, key=lambda d: (d.resource, d.start_day)):
        ivs = by_resource.setdefault(d.resource, [])
        if ivs and d.start_day <= ivs[-1][1]:
            ivs[-1] = (ivs[-1][0], max(ivs[-1][1], d.end_day))
        else:
            ivs.append((d.start_day, d.end_day))
    return by_resource


def _pools(request: ScheduleRequest) -> tuple[list[Pool], dict[str, int]]:
    """Pools, and which pool each resource name draws on."""
    kind_of = {r.name: r.kind for r in request.resources}
    # a resource some task names as its crane is a crane, whatever its kind: never swapped (which crane can lift a
    # block depends on its weight), so never pooled with its kind's other resources
    cranes = {t.crane for t in request.tasks if t.crane is not None}
    shared = {kind_of[t.resource] for t in request.tasks if t.resource is not None and t.resource not in cranes}
    if request.resource_choice == "named":
        shared = set()
    pools: list[Pool] = []
    pool_of: dict[str, int] = {}
    kind_pool: dict[str, int] = {}
    for r in request.resources:
        if r.kind in shared and r.name not in cranes:
            if r.kind not in kind_pool:
                slots = tuple(
                    s.name
                    for s in request.resources
                    if s.kind == r.kind and s.name not in cranes
                    for _ in range(s.capacity)
                )
                kind_pool[r.kind] = len(pools)
                pools.append(Pool(r.kind, len(slots), slots))
            pool_of[r.name] = kind_pool[r.kind]
        else:
            pool_of[r.name] = len(pools)
            pools.append(Pool(r.name, r.capacity, (r.name,) * r.capacity))
    return pools, pool_of


def _pool_outages(
    pools: list[Pool], outages: Outages, units: dict[str, int]
) -> tuple[list[list[tuple[int, int, int]]], list[tuple[str, ...]]]:
    """Each pool's outages as (start, end, units lost), and which pools are split (see the module's docstring)."""
    down = [[(a, b, units[r]) for r in pool.resources for a, b in outages.get(r, [])] for pool in pools]
    split = [pool.resources if lost and len(pool.resources) > 1 else () for pool, lost in zip(pools, down, strict=True)]
    return down, split


def _fit(outages: list[tuple[int, int]], t: int, d: int) -> int:
    """The first day from `t` on when `d` days in a row miss every (sorted, disjoint) outage."""
    for a, b in outages:
        if t < b and a < t + d:
            t = b
    return t


def _earliest(usage: npt.NDArray[np.int32], capacity: int, t: int, d: int) -> int:
    """The first day from `t` on when `usage` stays below `capacity` for `d` days in a row."""
    while True:
        full = np.flatnonzero(usage[t : t + d] >= capacity)
        if not full.size:
            return t
        t += int(full[-1]) + 1


def _occupancy(problem: Problem, width: int) -> tuple[npt.NDArray[np.int32], dict[str, npt.NDArray[np.int32]]]:
    """Units taken per pool and day by outages, and per resource of a split pool (where its tasks are counted)."""
    p = problem
    usage = np.zeros((len(p.pools), width), dtype=np.int32)
    held: dict[str, npt.NDArray[np.int32]] = {}
    for q, lost in enumerate(p.down):
        if p.split[q]:
            for r in p.split[q]:
                held[r] = np.zeros(width, dtype=np.int32)
                for a, b in p.outages.get(r, []):
                    held[r][a:b] = p.units[r]
        else:
            for a, b, units in lost:
                usage[q, a:b] += units
    return usage, held


def serial_schedule(problem: Problem, sequence: list[int], on: Resources | None = None) -> tuple[Days, Resources]:
    """Start days from the serial schedule-generation scheme, and the resource chosen in each split pool.

    Args:
        problem: the problem.
        sequence: every task, predecessors first.
        on: a resource per task to keep it on in split pools (None: choose the earliest free, the named first).

    Returns:
        Start days, and per task its resource in a split pool (None outside split pools).
    """
    p = problem
    width = int(p.release.max()) + p.down_end + int(p.duration.sum()) + 1  # no task can start later than this
    usage, held = _occupancy(p, width)
    capacity = np.array([pool.capacity for pool in p.pools], dtype=np.int32)
    start = np.full(len(sequence), -1, dtype=np.int64)
    chosen: Resources = [None] * len(sequence)
    for i in sequence:
        d = int(p.duration[i])
        t = max([int(p.release[i])] + [int(start[u]) + int(p.duration[u]) for u in p.preds[i]])
        moved = True
        while moved:
            moved = False
            for q in p.needs[i]:
                if p.split[q]:
                    kept = None if on is None else on[i]
                    options = p.split[q] if kept is None else (kept,)
                    fits = [(_earliest(held[r], p.units[r], t, d), r != p.named[i], r) for r in options]
                    first, _, chosen[i] = min(fits, key=lambda fit: fit[:2])
                    if first > t:
                        t, moved = first, True
                    continue
                full = np.flatnonzero(usage[q, t : t + d] >= capacity[q])
                if full.size:
                    # jumping past the last full day keeps day t-1 full, so whatever frees the resource ends on day t
                    t += int(full[-1]) + 1
                    moved = True
        for q in p.needs[i]:
            if p.split[q]:
                held[str(chosen[i])][t : t + d] += 1
            else:
                usage[q, t : t + d] += 1
        start[i] = t
    return start, chosen


def lower_bound(problem: Problem) -> int:
    """A makespan no schedule can beat, in days.

    The longest chain of release day, outage and work, and a bound per pool: deal a schedule's tasks to the
    pool's units of capacity; if m units are used, each is busy from its first task's start (not before
    that task's earliest start) to its last task's finish (not after the makespan minus that task's tail),
    so m * makespan >= the pool's work + the m smallest earliest starts + the m smallest tails. A pool with
    outages also needs, between its earliest start and the makespan minus its smallest tail, as many
    unit-days of capacity left by the outages as it has work.
    """
    p = problem
    bound = int((p.head + p.duration + p.tail).max())
    for q, pool in enumerate(p.pools):
        members = [i for i, need in enumerate(p.needs) if q in need]
        if not members:
            continue
        work = int(p.duration[members].sum())
        heads, tails = np.sort(p.head[members]), np.sort(p.tail[members])
        units = range(1, min(pool.capacity, len(members)) + 1)
        bound = max(bound, min(-(-(work + int(heads[:m].sum() + tails[:m].sum())) // m) for m in units))
        if p.down[q]:
            first = int(heads[0])
            span = max(max(b for _, b, _ in p.down[q]) - first, 0) + work + 1  # enough: after the outages, >= 1 a day
            left = np.full(span, pool.capacity, dtype=np.int64)
            for a, b, lost in p.down[q]:
                left[max(a - first, 0) : max(b - first, 0)] -= lost
            # the first day by whose end the capacity left since `first` covers the work
            done = first + int(np.searchsorted(np.cumsum(left), work)) + 1
            bound = max(bound, done + int(tails[0]))
    return bound


def greedy(problem: Problem, rounds: int = 6) -> tuple[Days, Resources]:
    """The shorter of two serial schedules (latest finish first, earliest start first), each improved.

    Forward-backward improvement: right-justify (a serial schedule backwards in time, latest finish
    first), then left-justify in order of those starts, while that shortens the schedule.
    """
    p = problem
    found = []
    for sequence in (p.latest_finish_first(), np.lexsort((p.rank, p.head)).tolist()):
        start, on = serial_schedule(p, sequence)
        for _ in range(rounds):
            finish = start + p.duration
            end = int(finish.max())
            late, _ = serial_schedule(p.backwards(end), np.lexsort((-p.rank, -finish)).tolist())
            packed, packed_on = serial_schedule(p, p.by_start(int((late + p.duration).max()) - late - p.duration))
            if (packed + p.duration).max() >= end:
                break
            start, on = packed, packed_on
        found.append((start, on))
    return min(found, key=lambda placed: int((placed[0] + p.duration).max()))


def assign_slots(problem: Problem, start: Days, on: Resources) -> list[str | None]:
    """The resource each task runs on, within its pool, preferring the one it named.

    In a split pool, the resource it was placed on (`on`). In another pool, tasks are dealt in order of
    start to a unit of capacity free by then (interval partitioning): since no day has more tasks than the
    pool's capacity, one always is. Among free units the named resource comes first, then the unit freed
    last, so a task held up by its pool lands on the unit that held it up.
    """
    p = problem
    resource = list(p.named)
    finish = start + p.duration
    for q, pool in enumerate(p.pools):
        if p.split[q]:
            for i, own in enumerate(p.resource_pool):
                if own == q:
                    resource[i] = on[i]
            continue
        if len(set(pool.slots)) == 1:
            continue  # one resource: nothing to choose
        free_at = [0] * pool.capacity
        members = [i for i in p.by_start(start) if p.resource_pool[i] == q]
        for i in members:
            s = int(start[i])
            free = [k for k in range(pool.capacity) if free_at[k] <= s]
            k = min(free, key=lambda k: (pool.slots[k] != p.named[i], -free_at[k], k))
            free_at[k] = int(finish[i])
            resource[i] = pool.slots[k]
    return resource
