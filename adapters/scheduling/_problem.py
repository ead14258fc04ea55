"""A request in index form, and the scheduling that needs no solver.

- `serial_schedule`: the serial schedule-generation scheme. Given tasks in an order that puts every
  task after its predecessors, it starts each on the earliest day its predecessors, its release day
  and its resources allow. With the latest-finish priority it is the greedy start (an upper bound and
  a hint for CP-SAT); fed CP-SAT's tasks in order of start, it left-justifies CP-SAT's schedule: no task
  starts later than it did there (tasks placed before it only moved earlier, so they occupy no more
  of its old window), and every start is explained by a predecessor, a resource or the release day,
  which the critical path relies on.
- `greedy`: the better of two priority rules, each improved by forward-backward passes.
- `lower_bound`: the longest chain of work, and for each pool its work spread over its units of
  capacity, each unit busy no earlier than its first task can start and no later than its last task's
  tail allows.
- `assign_slots`: which resource of a pool each task runs on (interval partitioning).
- `critical_path`: the chain that sets the makespan, walked back from the task that finishes last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from adapters.scheduling._model import ScheduleRequest, order_or_cycle

__all__ = ["Pool", "Problem", "assign_slots", "critical_path", "greedy", "lower_bound", "serial_schedule"]

Days = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Pool:
    """Capacity that tasks draw one unit of: a resource kind (its resources' capacities summed) or one resource."""

    name: str
    capacity: int
    slots: tuple[str, ...]
    """The resource behind each unit of capacity."""


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
    """Earliest start allowed by release days and precedences alone."""
    tail: Days
    """Longest chain of work after the task finishes."""

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
        head = release.copy()
        for v in order:
            for u in preds[v]:
                head[v] = max(head[v], head[u] + duration[u])
        tail = np.zeros(n, dtype=np.int64)
        for u in reversed(order):
            for v in succs[u]:
                tail[u] = max(tail[u], duration[v] + tail[v])
        named = [t.resource for t in tasks]
        cranes = [t.crane for t in tasks]
        return cls(
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
            named,
            cranes,
            head,
            tail,
        )

    def latest_finish_first(self) -> list[int]:
        """Tasks by decreasing length of the chain they start (a predecessor's is never shorter), then topologically."""
        return np.lexsort((self.rank, -(self.duration + self.tail))).tolist()

    def by_start(self, start: Days) -> list[int]:
        """Tasks by start day, predecessors first among equal starts (zero-length predecessors start the same day)."""
        return np.lexsort((self.rank, start)).tolist()


def _pools(request: ScheduleRequest) -> tuple[list[Pool], dict[str, int]]:
    """Pools, and which pool each resource name draws on."""
    kind_of = {r.name: r.kind for r in request.resources}
    shared = {kind_of[t.resource] for t in request.tasks if t.resource is not None}
    if request.resource_choice == "named":
        shared = set()
    pools: list[Pool] = []
    pool_of: dict[str, int] = {}
    kind_pool: dict[str, int] = {}
    for r in request.resources:
        if r.kind in shared:  # never a crane: no trade works on one (see TRADE_KIND)
            if r.kind not in kind_pool:
                slots = tuple(s.name for s in request.resources if s.kind == r.kind for _ in range(s.capacity))
                kind_pool[r.kind] = len(pools)
                pools.append(Pool(r.kind, len(slots), slots))
            pool_of[r.name] = kind_pool[r.kind]
        else:
            pool_of[r.name] = len(pools)
            pools.append(Pool(r.name, r.capacity, (r.name,) * r.capacity))
    return pools, pool_of


def serial_schedule(problem: Problem, sequence: list[int]) -> Days:
    """Start days from the serial schedule-generation scheme; `sequence` must list predecessors first."""
    p = problem
    width = int(p.release.max() + p.duration.sum()) + 1  # no task can start later than this
    usage = np.zeros((len(p.pools), width), dtype=np.int32)
    capacity = np.array([pool.capacity for pool in p.pools], dtype=np.int32)
    start = np.full(len(sequence), -1, dtype=np.int64)
    for i in sequence:
        d = int(p.duration[i])
        t = max([int(p.release[i])] + [int(start[u]) + int(p.duration[u]) for u in p.preds[i]])
        moved = True
        while moved:
            moved = False
            for q in p.needs[i]:
                full = np.flatnonzero(usage[q, t : t + d] >= capacity[q])
                if full.size:
                    # jumping past the last full day keeps day t-1 full, so whatever frees the resource ends on day t
                    t += int(full[-1]) + 1
                    moved = True
        for q in p.needs[i]:
            usage[q, t : t + d] += 1
        start[i] = t
    return start


def lower_bound(problem: Problem) -> int:
    """A makespan no schedule can beat, in days.

    The longest chain of release day and work, and a bound per pool: deal a schedule's tasks to the
    pool's units of capacity; if m units are used, each is busy from its first task's start (not before
    that task's earliest start) to its last task's finish (not after the makespan minus that task's tail),
    so m * makespan >= the pool's work + the m smallest earliest starts + the m smallest tails.
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
    return bound


def greedy(problem: Problem, rounds: int = 6) -> Days:
    """The shorter of two serial schedules (latest finish first, earliest start first), each improved.

    Forward-backward improvement: right-justify (a serial schedule backwards in time, latest finish
    first), then left-justify in order of those starts, while that shortens the schedule.
    """
    p = problem
    # release days are left out backwards: the forward pass puts every task back after its own
    backwards = replace(
        p, preds=p.succs, succs=p.preds, release=np.zeros_like(p.release), order=p.order[::-1], rank=-p.rank
    )
    found = []
    for sequence in (p.latest_finish_first(), np.lexsort((p.rank, p.head)).tolist()):
        start = serial_schedule(p, sequence)
        for _ in range(rounds):
            finish = start + p.duration
            late = serial_schedule(backwards, np.lexsort((-p.rank, -finish)).tolist())
            packed = serial_schedule(p, p.by_start(int((late + p.duration).max()) - late - p.duration))
            if (packed + p.duration).max() >= finish.max():
                break
            start = packed
        found.append(start)
    return min(found, key=lambda start: int((start + p.duration).max()))


def assign_slots(problem: Problem, start: Days) -> list[str | None]:
    """The resource each task runs on, within its pool, preferring the one it named.

    Tasks are dealt in order of start to a unit of capacity free by then (interval partitioning): since no
    day has more tasks than the pool's capacity, one always is. Among free units the named resource comes
    first, then the unit freed last, so a task held up by its pool lands on the unit that held it up.
    """
    p = problem
    resource = list(p.named)
    finish = start + p.duration
    for q, pool in enumerate(p.pools):
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


def critical_path(problem: Problem, start: Days, resource: list[str | None]) -> list[int]:
    """The chain of tasks that ends at the last finish, each starting the day the one before it finishes.

    From the task that finishes last, step back to a predecessor that finishes on its start day, else to a
    task on the same resource or crane that does; stop at a task nothing held up (it starts on its release day
    in a left-justified schedule).
    """
    p = problem
    finish = start + p.duration
    ending: dict[tuple[str, int], list[int]] = {}  # (resource or crane, finish day) -> tasks holding it
    for i in range(len(p.codes)):
        if p.duration[i] > 0:
            for name in {resource[i], p.cranes[i]} - {None}:
                ending.setdefault((str(name), int(finish[i])), []).append(i)
    node = int(np.lexsort((np.arange(len(finish)), finish))[-1])
    chain = [node]
    while True:
        s = int(start[node])
        held_by = [u for u in p.preds[node] if finish[u] == s]
        for name in (resource[node], p.cranes[node]):
            if name is not None and p.duration[node] > 0:
                held_by += [u for u in ending.get((name, s), []) if u != node]
        if not held_by:
            return chain[::-1]
        node = held_by[0]
        chain.append(node)
