"""Repair is always valid: random events on small yards, every proposal checked by the independent validator.

Events are drawn with seeded generators (no hypothesis): a resource down for 1-10 days from a random day, a
block's or assembly's welding hours (x0.5-2) or outfitting rework risk (x0.5-4) changed, a block, an assembly or a
work package late by 1-15 days; every few events one is adopted, so later proposals repair an already repaired
plan. Each proposal must keep every precedence, capacity, downtime and release day
(`adapters.scheduling.violations`, which reads only the request and the schedule), keep every work package on
its resource, start nothing earlier, and keep each resource's order (a resource of capacity c: its c queues').
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.scheduling import InvalidScheduleError, Schedule, violations
from brain.core import YardContext
from brain.planbook import Approver, PlanEvent, deciding
from knowledge import Settings

YARDS = [(20_000, 1), (40_000, 5), (60_000, 9)]
SEEDS = [11, 12, 13]
EVENTS_PER_SEED = 30
ADOPT_EVERY = 7


def _random_event(rng: random.Random, ctx: YardContext, blocks: list[str], assemblies: list[str]) -> PlanEvent:
    resources = ctx.yard.codes_of(ctx.yard.nodes_of_role("resource"))
    horizon = ctx.plan.current()[1].makespan_days
    pick = rng.random()
    if pick < 0.4:
        days, start = rng.randint(1, 10), rng.randint(0, horizon)
        return ctx.plan.event(resource=rng.choice(resources), code=None, days=days, start_day=start)
    if pick < 0.55:  # a model's output on a block or assembly changes: its durations follow
        if rng.random() < 0.6:
            code = rng.choice(blocks if rng.random() < 0.5 else assemblies)
            return ctx.plan.event(resource=None, code=code, days=None, welding_factor=round(rng.uniform(0.5, 2.0), 2))
        code = rng.choice(blocks)  # every block has outfitting items (an assembly may have none: refused)
        return ctx.plan.event(resource=None, code=code, days=None, rework_factor=round(rng.uniform(0.5, 4.0), 2))
    codes = blocks if pick < 0.7 else assemblies if pick < 0.85 else ctx.index.codes
    return ctx.plan.event(resource=None, code=rng.choice(codes), days=rng.randint(1, 15))


def _order_breaks(before: Schedule, after: Schedule, capacity: dict[str, int]) -> list[str]:
    """Work packages that moved earlier, changed resource, or broke a resource's order: on a resource or crane of
    capacity c, no c + 1 packages that start one after another in the baseline start in the reverse order now (its
    c queues each keep their order; with c = 1, none overtakes another)."""
    was = {t.code: t for t in before.tasks}
    out = [
        f"{t.code} runs on {t.resource}, was {was[t.code].resource}"
        for t in after.tasks
        if t.resource != was[t.code].resource
    ]
    out += [f"{t.code} starts earlier" for t in after.tasks if t.start_day < was[t.code].start_day]
    queues: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    now = {t.code: t.start_day for t in after.tasks}
    for t in before.tasks:
        if t.finish_day > t.start_day:
            for name in {t.resource, t.crane} - {None}:
                queues[str(name)].append((t.start_day, now[t.code], t.code))
    for name, queue in queues.items():
        queue.sort()
        # the longest run of packages with baseline starts rising and starts now falling
        longest = [1] * len(queue)
        for j, (was_j, now_j, _) in enumerate(queue):
            for i in range(j):
                if queue[i][0] < was_j and queue[i][1] > now_j:
                    longest[j] = max(longest[j], longest[i] + 1)
        worst = max(longest, default=0)
        if worst > capacity[name]:
            out.append(f"{worst} packages on {name} (capacity {capacity[name]}) start in the reverse of their order")
    return out


@pytest.mark.slow
def test_random_events_never_break_the_schedule(
    yard_factory: Callable[[int, int], Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    tried = found = adopted = 0
    first_breaks: list[str] = []
    for parts, yard_seed in YARDS:
        yard = yard_factory(parts, yard_seed)
        for seed in SEEDS:
            settings = Settings(data_dir=tmp_path_factory.mktemp(f"plan-{parts}-{seed}"))
            ctx = YardContext.open(yard, settings)
            store = ctx.yard
            blocks = store.codes_of(store.nodes_of_role("block"))
            assemblies = store.codes_of(store.nodes_of_role("assembly"))
            rng = random.Random(seed * 1_000 + parts)
            try:
                for k in range(EVENTS_PER_SEED):
                    event = _random_event(rng, ctx, blocks, assemblies)
                    tried += 1
                    try:
                        proposal = ctx.plan.propose([event])
                    except InvalidScheduleError as exc:  # the plan refuses to show a schedule that breaks a rule
                        found += len(exc.found)
                        first_breaks += [f"{event.describe()}: {b}" for b in exc.found[:3]]
                        continue
                    request = ctx.plan.request([*proposal.adopted, event])
                    capacity = {r.name: r.capacity for r in request.resources}
                    breaks = violations(request, proposal.after) + _order_breaks(
                        proposal.before, proposal.after, capacity
                    )
                    found += len(breaks)
                    first_breaks += [f"{event.describe()}: {b}" for b in breaks[:3]]
                    if (k + 1) % ADOPT_EVERY == 0:
                        with deciding(Approver("property test", "key_test", proposal.digest)):
                            ctx.plan.adopt(proposal, by="property test", key=f"property:{parts}:{seed}:{k}")
                        adopted += 1
            finally:
                ctx.close()
    print(f"property: {tried} events tried ({adopted} adopted on the way), {found} violations")
    assert found == 0, f"{tried} events tried, {found} violations: {first_breaks[:10]}"
    assert tried == len(YARDS) * len(SEEDS) * EVENTS_PER_SEED
