"""`block-readiness` v1: what is still missing before a block can be erected, and when it will be ready.

The scope is the block's upstream closure in the part graph: everything that must be done before the block
is erected (its parts, sub-assemblies, assemblies and joints, its outfitting items fitted before erection, the
blocks it rests on with their own closures, and the erection joints between them).

Completion reports come from the MES (ISA-95 operations performance): each names a work package (work order) or
any other code of the yard (block, assembly, sub-assembly, part, joint, outfitting item) with a status. Codes are
read as the block's is: the yard's id exactly, else the one id it names with case, separators and leading zeros
ignored ("b012-a3" is B012-A03), so two spellings of one code are one code. For a code reported more than once the
latest report (by `reported_at`) counts; two reports of one code at the same time that say different things are
refused (422 naming both). A request holds at most 8,000 reports (`MAX_REPORTS`): what the service's 1 MiB body
limit (`SHIPBRAIN_MAX_BODY_BYTES`) holds at up to 130 bytes a report; report work packages rather than each part.

A **completed** code is done, and so is everything upstream of it (nothing starts before what it waits on has
finished); a completed work package is done with everything it makes. An **in_progress** report with a `percent`
leaves its code missing but takes that share off its remaining hours (of the work package's scope, or of the code
and its upstream). **not_started** changes nothing.

The forecast: each missing node carries predicted hours (a joint its welding-model hours, an outfitting
item its norm hours raised by its predicted rework risk, as `adapters.scheduling.predicted_hours` does; the
rest of a work package's estimate, such as part handling and erection set-up, spread evenly over the nodes
it makes). A work package's remaining hours divided by its crew at 8 h a day
(`adapters.scheduling.HOURS_PER_DAY`), rounded up, give its remaining days; the block is ready when the
longest chain of those through the yard's work package order (a block's packages in their trades' order, a
block's erection after those of the blocks it rests on) is done, counted from `as_of`. Missing nodes that no
work package makes are counted and listed, but have no crew to forecast them by (`hours_without_work_package`).
Resource capacities are not modelled here, so the date is the earliest the work allows (the `reschedule`
workflow sequences resources).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field, model_validator

from brain.core import WorkPackageIndex, predict_items, predict_joints
from brain.core.context import HORIZON_DAYS
from knowledge.yardformat.fields import ROLES
from workflows._codes import MAX_CODE, kind_index, looks_like_work_package, resolve
from workflows.base import MODEL_CONFIG, ProgressCallback, Steps, WorkflowContext, request_field, workflow
from workflows.errors import WorkflowInputError

__all__ = [
    "MAX_REPORTS",
    "REPORT_BYTES",
    "BlockReadiness",
    "BlockReadinessRequest",
    "CompletionReport",
    "MissingScope",
    "RemainingWork",
    "block_readiness",
    "check_block_readiness",
]

MAX_REPORTS: Final = 8_000
"""Most completion reports in one request: what the service's default body limit of 1 MiB holds at up to
`REPORT_BYTES` a report. A report with a code like WP-B012-ASM, in_progress with a percent, and a time in UTC takes
108 bytes as JSON with spaces (its ", " separator included); 130 leave room for codes of up to about 30 characters."""
REPORT_BYTES: Final = 130
"""The size of a report `MAX_REPORTS` is counted for, bytes of JSON with its separator."""

HOURS_PER_DAY: Final = 8.0
"""Working hours per person per day, as the scheduler counts them (`adapters.scheduling.HOURS_PER_DAY`)."""

IdArray = npt.NDArray[np.int32]
_NOT_WORK: Final = (ROLES.index("work_package"), ROLES.index("resource"))
"""Roles that are not production work: a work package or a resource is never itself a prerequisite."""


class _Model(BaseModel):
    model_config = MODEL_CONFIG


class CompletionReport(_Model):
    """One MES progress report (ISA-95 operations performance) on a work order or a piece of the yard."""

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="A work package (work order) or a block, assembly, sub-assembly, part, joint or outfitting item, "
        "as the yard names it (its id as in the yard's tables, e.g. <work package id> or <assembly id>).",
    )
    status: Literal["completed", "in_progress", "not_started"] = Field(description="The reported state.")
    percent: float | None = Field(
        default=None, ge=0, le=100, description="Share done, 0-100, for an in_progress report only."
    )
    reported_at: datetime = Field(
        description=f"When the MES recorded the state (ISO 8601; no later than the schedule's day {HORIZON_DAYS})."
    )

    @model_validator(mode="after")
    def _percent_only_in_progress(self) -> CompletionReport:
        """A percent only on an in_progress report."""
        if self.percent is not None and self.status != "in_progress":
            raise ValueError(f"percent is only for in_progress reports, not {self.status}")
        return self


class BlockReadinessRequest(_Model):
    """A block and what the MES reports done."""

    block: str = Field(
        min_length=1,
        max_length=MAX_CODE,
        description="The block to erect, as the yard names it (its id as in the yard's tables, e.g. <block id>).",
    )
    reports: list[CompletionReport] = Field(
        default_factory=list,
        max_length=MAX_REPORTS,
        description=f"Completion reports from the MES, at most {MAX_REPORTS:,} (what the service's 1 MiB body limit "
        f"holds at up to {REPORT_BYTES} bytes a report). For a code reported more than once the latest counts; two "
        "reports of one code at the same time that disagree are refused.",
    )
    as_of: date | None = Field(
        default=None,
        description="The day the forecast counts from (default: the latest report, else day 0), from day 0 to the "
        f"schedule's horizon (day {HORIZON_DAYS}).",
    )
    sample_size: int = Field(default=5, ge=0, le=100, description="Codes to list per missing group.")


class MissingScope(_Model):
    """What is still missing of one kind in one work package."""

    work_package: str | None = Field(
        description="The work package (work order) that makes them, as the yard names it; None: no work package does."
    )
    block: str | None = Field(description="The block the work package works on (None: none, or no work package).")
    trade: str | None = Field(description="The work package's trade, as the yard names it (None: no work package).")
    kind: str = Field(description="The nodes' kind, as the yard names it.")
    role: str | None = Field(
        description="The kind's role: block, assembly, sub_assembly, part, joint or outfitting_item (None: none)."
    )
    count: int = Field(description="Missing nodes of this kind in this work package.")
    sample_codes: list[str] = Field(description="The first few of their codes.")


class RemainingWork(_Model):
    """The remaining work of one work package that the block waits on."""

    work_package: str
    trade: str
    crew: int = Field(description="People on the work package.")
    remaining_hours: float = Field(description="Predicted hours still to do (see the workflow's description).")
    remaining_days: int = Field(description="ceil(remaining_hours / (crew * 8 h)).")
    finish_day: int = Field(description="Earliest day it can finish, counted from day 0 (see `ready_day`).")


class BlockReadiness(_Model):
    """Whether a block can be erected, what it still waits on, and when it will be ready."""

    block: str
    ready: bool = Field(description="Nothing upstream of the block's erection is missing.")
    as_of: date = Field(description="The day the forecast counts from.")
    day_zero: date = Field(description="Calendar date of schedule day 0 (the yard's day 0).")
    scope_total: int = Field(description="Nodes that must be done before the block is erected.")
    done: int = Field(description="Of them, done according to the reports.")
    missing_total: int = Field(description="Of them, still missing.")
    missing_by_kind: dict[str, int] = Field(description="Missing nodes per kind, as the yard names its kinds.")
    prerequisite_blocks: list[str] = Field(description="Blocks that must be erected first (the blocks below).")
    missing: list[MissingScope] = Field(description="Missing nodes grouped by work package and kind.")
    remaining_hours: float = Field(description="Predicted hours of the missing scope that work packages make.")
    hours_without_work_package: float = Field(
        default=0.0,
        description="Predicted hours of missing nodes that no work package makes (no crew: not in the forecast).",
    )
    work_packages: list[RemainingWork] = Field(description="Work packages with remaining work, by finish day.")
    ready_in_days: int = Field(description="Working days from `as_of` until nothing is missing.")
    ready_day: int = Field(description="The day the block can be erected, counted from day 0.")
    ready_date: date = Field(description="`ready_day` as a calendar date.")
    reports_outside_scope: int = Field(
        description="Reports (the latest per code) naming nothing in the block's scope, e.g. another block's work."
    )
    sources: list[str]
    summary: str


def check_block_readiness(ctx: WorkflowContext, request: BlockReadinessRequest) -> None:
    """Refuse, naming the field, what the yard does not hold or the schedule cannot count from.

    A block or a reported code the yard does not hold, a report time past the schedule's horizon, two reports of one
    code at one time that disagree, or a start (`as_of`, else the latest report) before day 0.
    """
    resolve(ctx.yard, request.block, "block", roles=["block"])
    said: dict[tuple[str, datetime], int] = {}
    for i, report in enumerate(request.reports):
        code, _, _ = _reported(ctx, report.code, f"reports.{i}.code")
        when = _report_date(ctx, report, f"reports.{i}.reported_at")
        if when >= ctx.day_zero:  # an earlier report only says what was done before day 0
            ctx.day_of(when, field=f"reports.{i}.reported_at")
        first = said.setdefault((code, _stamp(report)), i)
        was = request.reports[first]
        if (was.status, was.percent) != (report.status, report.percent):
            raise WorkflowInputError(
                f"reports.{first} and reports.{i} both report {code} at {_stamp(report).isoformat()}, as "
                f"{_said(was)} and as {_said(report)}: send one report per code and time",
                field=f"reports.{i}",
            )
    as_of, field = _as_of_and_field(ctx, request)
    ctx.day_of(as_of, field=field)


@workflow(
    name="block-readiness",
    version="1",
    title="What a block still waits on before erection, and when it will be ready",
    description=__doc__ or "",
    request=BlockReadinessRequest,
    result=BlockReadiness,
    table="work_packages",
    check=check_block_readiness,
)
def block_readiness(ctx: WorkflowContext, request: BlockReadinessRequest, progress: ProgressCallback) -> BlockReadiness:
    """Run `block-readiness`."""
    steps = Steps(progress, ["scope", "reports", "models", "forecast"])
    steps.start("scope")
    yard, index = ctx.yard, ctx.index
    node = resolve(yard, request.block, "block", roles=["block"])
    block = yard.code_of(node)
    scope = yard.upstream([node])
    roles = yard.role_codes(scope)
    work = ~np.isin(roles, _NOT_WORK)
    scope, roles = scope[work], roles[work]
    steps.start("reports")
    done, factor, outside = _apply_reports(ctx, request.reports, scope)
    missing = scope[~done]
    as_of, field = _as_of_and_field(ctx, request)
    as_of_day = ctx.day_of(as_of, field=field)
    steps.start("models")
    wp_of = index.work_package_of(missing)
    hours, sources = _node_hours(ctx, missing, wp_of)
    hours *= factor[~done]
    steps.start("forecast")
    made = wp_of >= 0
    remaining = np.bincount(wp_of[made], weights=hours[made], minlength=len(index.codes))
    crew = np.maximum(np.asarray(index.crew, dtype=np.int64), 1)
    days = np.ceil(remaining / (crew * HOURS_PER_DAY) - 1e-9).clip(min=0).astype(np.int64)
    finish = _finish_days(index, days)
    involved = np.unique(wp_of[made])
    ready_in = int(finish[involved].max(initial=0))
    packages = sorted(
        (
            RemainingWork(
                work_package=index.codes[w],
                trade=index.trade[w],
                crew=int(crew[w]),
                remaining_hours=round(float(remaining[w]), 1),
                remaining_days=int(days[w]),
                finish_day=as_of_day + int(finish[w]),
            )
            for w in involved.tolist()
        ),
        key=lambda r: (r.finish_day, r.work_package),
    )
    kinds = kind_index(yard, missing)
    unplanned = float(hours[~made].sum())
    result = BlockReadiness(
        block=block,
        ready=not len(missing),
        as_of=as_of,
        day_zero=ctx.day_zero,
        scope_total=len(scope),
        done=int(done.sum()),
        missing_total=len(missing),
        missing_by_kind={
            yard.kinds[k]: int(n) for k, n in enumerate(np.bincount(kinds, minlength=len(yard.kinds)).tolist()) if n
        },
        prerequisite_blocks=yard.codes_of(scope[roles == ROLES.index("block")]),
        missing=_groups(ctx, index, missing, wp_of, kinds, request.sample_size),
        remaining_hours=round(float(remaining.sum()), 1),
        hours_without_work_package=round(unplanned, 1),
        work_packages=packages,
        ready_in_days=ready_in,
        ready_day=as_of_day + ready_in,
        ready_date=ctx.date_of(as_of_day + ready_in),
        reports_outside_scope=outside,
        sources=[f"part graph {yard.path.name}: upstream closure of {block}", *sources],
        summary=_summary(
            block,
            len(missing),
            len(scope),
            float(remaining.sum()),
            ready_in,
            ctx.date_of(as_of_day + ready_in),
            int((~made).sum()),
            unplanned,
        ),
    )
    steps.done()
    return result


def _summary(
    block: str, missing: int, scope: int, hours: float, days: int, when: date, unplanned: int, unplanned_hours: float
) -> str:
    if not missing:
        return f"{block} is ready to erect: all {scope:,} prerequisites are done"
    if unplanned == missing:  # nothing missing is in a work package (a yard without any): no crew dates it
        return (
            f"{block} is not ready: {missing:,} of {scope:,} prerequisites missing, {unplanned_hours:,.0f} predicted "
            "hours; none belongs to a work package of this yard, so no crew forecasts a ready date"
        )
    text = (
        f"{block} is not ready: {missing:,} of {scope:,} prerequisites missing, {hours:,.0f} predicted hours; "
        f"ready in {days} days, on {when.isoformat()}"
    )
    if unplanned:
        text += f" ({unplanned:,} missing nodes belong to no work package and are not in that date)"
    return text


def _as_of_and_field(ctx: WorkflowContext, request: BlockReadinessRequest) -> tuple[date, str | None]:
    """The day the forecast counts from, and the request field it comes from (None: day 0, the default)."""
    if request.as_of is not None:
        return request.as_of, "as_of"
    if not request.reports:
        return ctx.day_zero, None
    dates = [_report_date(ctx, r, f"reports.{i}.reported_at") for i, r in enumerate(request.reports)]
    latest = max(range(len(dates)), key=dates.__getitem__)
    return dates[latest], f"reports.{latest}.reported_at"


def _report_date(ctx: WorkflowContext, report: CompletionReport, field: str) -> date:
    """The UTC date of a report's time; one no calendar holds in UTC (year 1 at +14:00) names `field`."""
    try:
        return _utc(report.reported_at)
    except OverflowError:
        raise WorkflowInputError(
            f"{report.reported_at.isoformat()} is no date in UTC; the schedule runs from {ctx.day_zero} to "
            f"{ctx.horizon}",
            field=field,
        ) from None


def _said(report: CompletionReport) -> str:
    return report.status + (f" {report.percent:g} %" if report.percent is not None else "")


def _utc(when: datetime) -> date:
    """The date of a report time; a time without a zone is taken as UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()


def _apply_reports(
    ctx: WorkflowContext, reports: list[CompletionReport], scope: IdArray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], int]:
    """(done mask over `scope`, remaining-hours factor over `scope`, reports outside the scope)."""
    yard = ctx.yard
    latest: dict[str, tuple[int, CompletionReport, IdArray, bool]] = {}
    for i, report in enumerate(reports):
        code, ids, is_package = _reported(ctx, report.code, f"reports.{i}.code")
        if code not in latest or _stamp(latest[code][1]) <= _stamp(report):
            latest[code] = (i, report, ids, is_package)
    completed = [ids for _, r, ids, _ in latest.values() if r.status == "completed"]
    done = np.zeros(len(scope), dtype=bool)
    if completed:
        seeds = np.unique(np.concatenate(completed))
        done = np.isin(scope, np.union1d(seeds, yard.upstream(seeds)))
    factor = np.ones(len(scope), dtype=np.float64)
    outside = 0
    for _, report, ids, is_package in latest.values():
        outside += not np.isin(ids, scope).any()
        if report.status == "in_progress" and report.percent:
            touched = ids if is_package else np.union1d(ids, yard.upstream(ids))
            inside = np.isin(scope, touched)
            factor[inside] = np.minimum(factor[inside], 1 - report.percent / 100)
    return done, factor, outside


def _reported(ctx: WorkflowContext, code: str, field: str) -> tuple[str, IdArray, bool]:
    """(the code as the yard writes it, the nodes it stands for, whether a work package); unknown names `field`."""
    index = ctx.index
    if looks_like_work_package(index, code):
        with request_field(field):
            row = index.work_package(code)
        return index.codes[row], np.asarray(index.scope(row), dtype=np.int32), True
    node = resolve(ctx.yard, code, field)
    return ctx.yard.code_of(node), np.asarray([node], dtype=np.int32), False


def _stamp(report: CompletionReport) -> datetime:
    at = report.reported_at
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _node_hours(
    ctx: WorkflowContext, ids: IdArray, wp_of: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Predicted hours of each node: model hours for joints and items plus its share of its package's fixed hours."""
    index = ctx.index
    fixed = np.asarray(index.fixed_hours_per_node(), dtype=np.float64)
    hours = np.where(wp_of >= 0, fixed[np.maximum(wp_of, 0)] if len(fixed) else 0.0, 0.0)
    roles = ctx.yard.role_codes(ids)
    sources = []
    joints = roles == ROLES.index("joint")
    if joints.any():
        welding = predict_joints(ctx, ids[joints])
        hours[joints] += welding.hours
        sources.append(f"welding model {welding.model_version}: hours per missing joint")
    items = roles == ROLES.index("outfitting_item")
    if items.any():
        outfitting = predict_items(ctx, ids[items])
        norm = index.item_norm_hours(ids[items])
        hours[items] += outfitting.expected_hours(norm)
        sources.append(
            f"outfitting model {outfitting.model_version}: rework risk raising each missing item's norm hours"
        )
    sources.append("work packages' crews at 8 h a day (adapters.scheduling.HOURS_PER_DAY)")
    return hours, sources


def _finish_days(index: WorkPackageIndex, days: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Earliest finish of every work package if each takes `days` after those it waits on (no capacities).

    The order is the yard's work package order (`WorkPackageIndex.precedences`): the longest chain into each.
    """
    import networkx as nx

    order = nx.DiGraph()
    order.add_nodes_from(range(len(days)))
    order.add_edges_from(index.precedences)
    finish = np.zeros(len(days), dtype=np.int64)
    for w in nx.topological_sort(order):
        start = max((int(finish[p]) for p in order.predecessors(w)), default=0)
        finish[w] = start + days[w]
    return finish


def _groups(
    ctx: WorkflowContext,
    index: WorkPackageIndex,
    missing: IdArray,
    wp_of: npt.NDArray[np.int64],
    kinds: npt.NDArray[np.int16],
    sample: int,
) -> list[MissingScope]:
    yard = ctx.yard
    width = len(yard.kinds) + 1
    keys = (wp_of + 1) * width + (kinds.astype(np.int64) + 1)  # no work package and no kind sort first
    order = np.argsort(keys, kind="stable")
    uniq, first, counts = np.unique(keys[order], return_index=True, return_counts=True)
    out = []
    for key, start, n in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True):
        w, k = divmod(int(key), width)
        w, k = w - 1, k - 1
        nodes = missing[order[start : start + min(n, sample)]]
        block = int(index.block[w]) if w >= 0 else -1
        out.append(
            MissingScope(
                work_package=index.codes[w] if w >= 0 else None,
                block=yard.code_of(block) if block >= 0 else None,
                trade=index.trade[w] if w >= 0 else None,
                kind=yard.kinds[k] if k >= 0 else "",
                role=yard.role_of(int(missing[order[start]])),
                count=int(n),
                sample_codes=yard.codes_of(nodes),
            )
        )
    return out
