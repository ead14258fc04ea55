"""Weld joints at four levels (sub-assembly, assembly, block, erection) with their recorded actuals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.synthetic import truth
from knowledge.synthetic._hull import _GRADE_P, _PLATE_T_MM, Blocks, Hull
from knowledge.synthetic._layout import CODE_LIMITS
from knowledge.synthetic._sampling import categorical, clipped_normal, group_starts, rank_in_group

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
F32 = npt.NDArray[np.float32]

# Position probabilities (1-4 within butt G or fillet F) by level, and one-sided share, and access
# (good, restricted, poor) by level; rows: sub_assembly, assembly, block, erection.
_BUTT_POS = [[0.85, 0.10, 0.05, 0.0], [0.30, 0.30, 0.30, 0.10], [0.15, 0.25, 0.35, 0.25], [0.10, 0.30, 0.50, 0.10]]
_FILLET_POS = [[0.50, 0.35, 0.10, 0.05], [0.20, 0.40, 0.30, 0.10], [0.10, 0.35, 0.35, 0.20], [0.1, 0.3, 0.5, 0.1]]
_ONE_SIDED = np.array([0.05, 0.25, 0.50, 0.90])
_ACCESS = [[0.85, 0.12, 0.03], [0.60, 0.30, 0.10], [0.40, 0.40, 0.20], [0.50, 0.35, 0.15]]
# Process (SAW, FCAW, GMAW, SMAW) by joint type; SAW only welds flat or horizontal.
_BUTT_PROC = [[0.75, 0.25, 0.0, 0.0], [0.15, 0.70, 0.0, 0.15], [0.10, 0.75, 0.0, 0.15], [0.15, 0.85, 0.0, 0.0]]
_FILLET_PROC = [0.0, 0.55, 0.30, 0.15]
TRADE_OF_LEVEL = np.array([0, 1, 1, 3], dtype=np.int64)  # PNL, ASM, ASM, ERE
_GAP_MEDIAN_MM = np.array([1.5, 1.8, 2.2, 2.2])


@dataclass
class _Level:
    """Joints of one level, each with its block, in block order."""

    block: I64
    part_a: I64  # -1 where no part (erection joints)
    part_b: I64
    pred_a: I64  # node ids that must be done before the joint
    pred_b: I64  # -1 where only one predecessor
    owner: I64  # node id that waits on the joint
    fillet: npt.NDArray[np.bool_]
    thickness: F32
    grade: I8
    length: F32


@dataclass
class Joints:
    """All joints in joint-id order (block by block, then level by level)."""

    block_joint_start: I64
    columns: dict[str, npt.NDArray[np.generic]]
    edges: tuple[I64, I64]


def _pairs_in_groups(rng: np.random.Generator, counts: I64) -> tuple[I64, I64]:
    """For groups of `counts` members, join each member after the first to a random earlier one (a tree)."""
    rank = rank_in_group(counts)
    later = np.flatnonzero(rank >= 1)
    earlier = later - rank[later] + np.floor(rng.random(len(later)) * rank[later]).astype(np.int64)
    return earlier, later


def _member_level(
    rng: np.random.Generator,
    hull: Hull,
    counts: I64,
    member_first_part: I64,
    member_node_base: int,
    member_block: I64,
    owner_ids: I64,
) -> _Level:
    """Joints that join the members (sub-assemblies or assemblies) of each owner, tree-wise."""
    earlier, later = _pairs_in_groups(rng, counts)
    pa, pb = member_first_part[earlier], member_first_part[later]
    n = len(later)
    group = np.repeat(np.arange(len(counts)), counts)[later]
    return _Level(
        block=member_block[later],
        part_a=pa,
        part_b=pb,
        pred_a=member_node_base + earlier,
        pred_b=member_node_base + later,
        owner=owner_ids[group],
        fillet=rng.random(n) < 0.6,
        thickness=np.minimum(hull.thickness_mm[pa], hull.thickness_mm[pb]),
        grade=np.maximum(hull.grade[pa], hull.grade[pb]),
        length=rng.uniform(3.0, 14.0, n).astype(np.float32),
    )


def make_joints(rng: np.random.Generator, blocks: Blocks, hull: Hull, kind_start: dict[str, int]) -> Joints:
    """Generate every joint, its attributes and actuals, and the precedence edges through it."""
    part_base, sub_base, asm_base = kind_start["part"], kind_start["sub_assembly"], kind_start["assembly"]
    per_sub = np.diff(hull.sub_part_start)
    per_asm = np.diff(hull.assembly_sub_start)
    per_block = np.diff(hull.block_assembly_start)
    sub_block = hull.part_block[hull.sub_part_start[:-1]].astype(np.int64)

    # sub-assembly level: each part after the first of its sub-assembly joins an earlier one
    pa, pb = _pairs_in_groups(rng, per_sub)
    kind_a, kind_b = hull.kind[pa], hull.kind[pb]
    fillet = ~((kind_a == 0) & (kind_b == 0))
    long_b = np.where(kind_b == 2, 2.0 * hull.length_m[pb], hull.length_m[pb])
    length = np.where(fillet, long_b, np.minimum(hull.length_m[pa], hull.length_m[pb]))
    length = (length * rng.uniform(0.6, 1.0, len(pb))).astype(np.float32)
    sub_of_b = hull.part_sub[pb].astype(np.int64)
    levels = [
        _Level(
            block=hull.part_block[pb].astype(np.int64),
            part_a=pa,
            part_b=pb,
            pred_a=part_base + pa,
            pred_b=part_base + pb,
            owner=sub_base + sub_of_b,
            fillet=fillet,
            thickness=np.minimum(hull.thickness_mm[pa], hull.thickness_mm[pb]),
            grade=np.maximum(hull.grade[pa], hull.grade[pb]),
            length=length,
        )
    ]
    sub_first_part = hull.sub_part_start[:-1]
    levels.append(
        _member_level(rng, hull, per_asm, sub_first_part, sub_base, sub_block, asm_base + np.arange(len(per_asm)))
    )
    asm_first_part = sub_first_part[hull.assembly_sub_start[:-1]]
    asm_block = np.repeat(np.arange(blocks.count, dtype=np.int64), per_block)
    levels.append(
        _member_level(
            rng, hull, per_block, asm_first_part, asm_base, asm_block, kind_start["block"] + np.arange(blocks.count)
        )
    )
    lower, upper = blocks.rests_on
    ne = len(upper)
    btype = blocks.block_type[lower]
    levels.append(
        _Level(
            block=upper,
            part_a=np.full(ne, -1, np.int64),
            part_b=np.full(ne, -1, np.int64),
            pred_a=kind_start["block"] + lower,
            pred_b=np.full(ne, -1, np.int64),
            owner=kind_start["block"] + upper,
            fillet=np.zeros(ne, dtype=bool),
            thickness=(np.round(clipped_normal(rng, _PLATE_T_MM[btype], 2.0, 5.0, 32.0) * 2) / 2).astype(np.float32),
            grade=categorical(rng, _GRADE_P, btype),
            length=blocks.length_m[upper] * rng.uniform(0.8, 1.6, ne).astype(np.float32),
        )
    )
    return _assemble(rng, blocks, levels, kind_start["joint"])


def _assemble(rng: np.random.Generator, blocks: Blocks, levels: list[_Level], joint_base: int) -> Joints:
    """Number joints block by block, draw their processes and actuals, and build their edges."""
    nb = blocks.count
    counts = np.stack([np.bincount(lv.block, minlength=nb) for lv in levels])  # level x block
    block_start = group_starts(counts.sum(axis=0))
    if np.diff(block_start).max(initial=0) > CODE_LIMITS["joints_per_block"]:
        raise AssertionError("a block outgrew the joint code's six digits")
    nj = int(block_start[-1])
    level_offset = block_start[:-1] + np.vstack([np.zeros(nb, np.int64), np.cumsum(counts, axis=0)[:-1]])
    cols: dict[str, npt.NDArray[np.generic]] = {}
    skill_hours = rng.lognormal(0.0, 0.08, (nb, 5))
    skill_defect = rng.normal(0.0, 0.25, (nb, 5))
    src: list[I64] = []
    dst: list[I64] = []

    def put(name: str, jid: I64, values: npt.NDArray[np.generic]) -> None:
        if name not in cols:
            cols[name] = np.empty(nj, dtype=values.dtype)
        cols[name][jid] = values

    for li, lv in enumerate(levels):
        n = len(lv.block)
        local_start = group_starts(counts[li])
        jid = level_offset[li][lv.block] + np.arange(n) - local_start[lv.block]
        btype = blocks.block_type[lv.block]
        pos = categorical(rng, [_BUTT_POS[li], _FILLET_POS[li]], lv.fillet.astype(np.int8))
        position = (pos + 4 * lv.fillet).astype(np.int8)
        process = categorical(rng, [_BUTT_PROC[li], _FILLET_PROC], lv.fillet.astype(np.int8))
        process = np.where((process == 0) & (pos >= 2), 1, process).astype(np.int8)  # no overhead SAW
        access_rows = [_ACCESS[li], [p * w for p, w in zip(_ACCESS[li], (0.7, 1.3, 2.0), strict=True)]]
        access = categorical(rng, access_rows, (btype == 0).astype(np.int8))
        one_sided = ~lv.fillet & (rng.random(n) < _ONE_SIDED[li])
        trade = TRADE_OF_LEVEL[li]
        gap = np.clip(rng.lognormal(np.log(_GAP_MEDIAN_MM[li]), 0.45, n), 0.3, 8.0).astype(np.float32)
        expected = truth.expected_weld_hours(
            lv.fillet, process, position, access, one_sided, lv.thickness, lv.length, gap
        )
        actual = expected * skill_hours[lv.block, trade] * rng.lognormal(0.0, 0.12, n)
        joint_logit = truth.defect_logit(
            lv.fillet, process, position, access, one_sided, lv.thickness, lv.grade >= 2, gap
        )
        logit = joint_logit + skill_defect[lv.block, trade]
        defect = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
        defect_class = np.zeros(n, dtype=np.int8)
        defect_class[defect] = truth.draw_defect_class(
            rng, process[defect], position[defect], one_sided[defect], lv.thickness[defect]
        )
        put("block_id", jid, lv.block.astype(np.int32))
        put("level", jid, np.full(n, li, np.int8))
        put("owner_id", jid, lv.owner.astype(np.int32))
        put("part_a_id", jid, lv.part_a.astype(np.int32))
        put("part_b_id", jid, lv.part_b.astype(np.int32))
        put("joint_type", jid, lv.fillet.astype(np.int8))
        put("process", jid, process)
        put("position", jid, position)
        put("thickness_mm", jid, lv.thickness.astype(np.float32))
        put("length_m", jid, lv.length.astype(np.float32))
        put("fit_up_gap_mm", jid, gap)
        put("grade", jid, lv.grade.astype(np.int8))
        put("one_sided", jid, one_sided)
        put("access", jid, access)
        put("work_package_id", jid, (lv.block * 5 + trade).astype(np.int32))
        put("norm_hours", jid, truth.yard_norm_weld_hours(lv.fillet, position, lv.length).astype(np.float32))
        put("actual_hours", jid, actual.astype(np.float32))
        put("defect", jid, defect)
        put("defect_class", jid, defect_class)
        put("expected_hours", jid, expected)  # ground truth (float64, exact), before welder skill and noise
        put("defect_logit", jid, joint_logit)  # ground truth (float64, exact), before the welder effect
        node = joint_base + jid
        has_b = lv.pred_b >= 0
        src += [lv.pred_a, lv.pred_b[has_b], node]
        dst += [node, node[has_b], lv.owner]
    return Joints(block_start, cols, (np.concatenate(src), np.concatenate(dst)))
