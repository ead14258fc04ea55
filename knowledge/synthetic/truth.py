"""The ground-truth process behind the synthetic yard's recorded actuals.

These functions are what "really happened" in the synthetic yard. The reference models must learn
them from the recorded actuals; the yard's own planning norms (`yard_norm_weld_hours`) are the
cruder estimates a planner uses today. All functions are vectorised over integer codes that index
the tuples in `knowledge.synthetic.vocabulary`.

**Weld hours** (per joint):

    metal_kg_per_m = area_mm2 * 7.85e-3            # steel, 7,850 kg/m3
      butt:   area_mm2 = t**2 * tan(30 deg) + gap * t # 60-degree V groove with the fit-up root gap
      fillet: area_mm2 = 0.6 * z**2, z = clip(0.7 * t, 4, 12)   # leg length z, with reinforcement
    arc_hours_per_m = metal_kg_per_m / (deposition_kg_h[process] * arc_time_share[process])
    hours = 0.25 + length_m * arc_hours_per_m * position_factor * access_factor * (1.15 if one-sided)
    actual = hours * welder_skill[work package] * lognormal(0, 0.12)

with deposition SAW 8, FCAW 4, GMAW 3, SMAW 1.5 kg/h; arc-time share SAW 0.55, FCAW 0.40, GMAW 0.40,
SMAW 0.30; position factor flat 1.0, horizontal 1.2, vertical 1.6, overhead 2.0; access good 1.0,
restricted 1.3, poor 1.7; welder skill lognormal(0, 0.08) shared by a work package. Hours grow with
length and with thickness squared and fall with the process's deposition rate.

**Weld defects** (found at NDT and repaired), per joint:

    logit p = -6.5 + position[flat 0, horizontal 0.7, vertical 1.6, overhead 2.4]
              + process[SAW -1.0, FCAW 0, GMAW 0.4, SMAW 1.1] + 0.1 * max(t - 10, 0)
              + 1.2 * one_sided + access[good 0, restricted 1.2, poor 2.4] + 0.4 * high_strength
              + 0.3 * fillet + 1.0 * max(fit_up_gap_mm - 2, 0)
              + welder_skill_effect[work package] ~ N(0, 0.25)

which gives a yard repair rate of about 1.8 % (TWI's survey: 1-3 %) with local peaks past 25 % for
overhead, one-sided, thick welds with a wide gap in poor access. The fit-up gap is measured at
fit-up inspection, before welding (lognormal, median 1.5 mm in panel work, 2.2 mm at block and
erection level), so a model may use it. The defect class is drawn from base weights (porosity .30,
slag inclusion .15, lack of fusion .15, incomplete penetration .10, undercut .12, crack .05,
overlap .08, burn-through .05) tilted by the joint: slag x2 for SMAW and FCAW, porosity x1.5 for
GMAW, incomplete penetration x3 for one-sided welds, lack of fusion x2 and overlap x1.5 out of
position, cracks x2 past 20 mm.

**Outfitting** (per item): stage is the one of on-unit / on-block / on-board with the highest
score plus Gumbel noise (scale 0.5):

    on-unit  = 1.2 if equipment under 12 t else -1.0, + 0.8 in a bottom block
    on-block = 1.0 + 0.5 for pipe spools and ducts - 1.5 * spans_blocks - 0.8 * (weight_t > 12)
    on-board = 0.2 + 1.2 * spans_blocks + 0.8 for cable trays + 0.6 in a superstructure block

Hours: base (pipe spool 6, cable tray 3, HVAC duct 5, equipment 20) x size x stage factor (on-unit
0.6, on-block 1.0, on-board 2.5: work later in the chain costs more) x lognormal(0, 0.2).
Rework: logit = -3.4 + 0.9 on-board + 0.2 on-block + 0.7 spans_blocks + 0.5 * congestion (items per
block, standardised) + 0.3 HVAC + 0.2 piping.

**Dates**: blocks are erected one every 1.25 days from 2025-03-03 in an order that respects what
rests on what; each block's work packages are planned backwards from its erection (PNL, ASM, OFB)
and forwards after it (OBD). Actual starts slip (60 % on time, 30 % 1-4 days, 10 % lognormal with a
median of 8 days), actual durations scale with actual over estimated hours, and a work package
never starts before the one it waits on has finished, so slips propagate down the chain.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from knowledge.synthetic.vocabulary import DEFECT_CLASSES

__all__ = [
    "defect_logit",
    "draw_defect_class",
    "expected_weld_hours",
    "weld_metal_kg_per_m",
    "yard_norm_weld_hours",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Codes = npt.NDArray[np.int8]

DEPOSITION_KG_H: Final = np.array([8.0, 4.0, 3.0, 1.5])  # SAW, FCAW, GMAW, SMAW
ARC_TIME_SHARE: Final = np.array([0.55, 0.40, 0.40, 0.30])
POSITION_TIME: Final = np.array([1.0, 1.2, 1.6, 2.0])  # by position digit 1-4
ACCESS_TIME: Final = np.array([1.0, 1.3, 1.7])
SETUP_HOURS: Final = 0.25

DEFECT_BASE: Final = -6.5
DEFECT_POSITION: Final = np.array([0.0, 0.7, 1.6, 2.4])
DEFECT_PROCESS: Final = np.array([-1.0, 0.0, 0.4, 1.1])
DEFECT_ACCESS: Final = np.array([0.0, 1.2, 2.4])
DEFECT_CLASS_WEIGHTS: Final = np.array([0.30, 0.15, 0.15, 0.10, 0.12, 0.05, 0.08, 0.05])


def position_digit(position: Codes) -> npt.NDArray[np.int64]:
    """0-3 for flat, horizontal, vertical, overhead (positions are 1G-4G then 1F-4F)."""
    return np.asarray(position, dtype=np.int64) % 4


def weld_metal_kg_per_m(fillet: npt.NDArray[np.bool_], thickness_mm: F32, gap_mm: F32) -> F64:
    """Weld metal deposited per metre of joint."""
    t = thickness_mm.astype(np.float64)
    leg = np.clip(0.7 * t, 4.0, 12.0)
    area = np.where(fillet, 0.6 * leg**2, t**2 * np.tan(np.radians(30.0)) + gap_mm * t)
    return area * 7.85e-3


def expected_weld_hours(
    fillet: npt.NDArray[np.bool_],
    process: Codes,
    position: Codes,
    access: Codes,
    one_sided: npt.NDArray[np.bool_],
    thickness_mm: F32,
    length_m: F32,
    gap_mm: F32,
) -> F64:
    """Ground-truth expected hours of a joint, before welder skill and noise."""
    per_m = weld_metal_kg_per_m(fillet, thickness_mm, gap_mm) / (DEPOSITION_KG_H[process] * ARC_TIME_SHARE[process])
    factor = POSITION_TIME[position_digit(position)] * ACCESS_TIME[access] * np.where(one_sided, 1.15, 1.0)
    return SETUP_HOURS + length_m.astype(np.float64) * per_m * factor


def yard_norm_weld_hours(fillet: npt.NDArray[np.bool_], position: Codes, length_m: F32) -> F64:
    """The yard's planning norm: hours per metre by joint type and position only (what planners use today)."""
    per_m = np.where(fillet, 0.22, 0.45) * np.array([1.0, 1.1, 1.3, 1.5])[position_digit(position)]
    return 0.3 + length_m.astype(np.float64) * per_m


def defect_logit(
    fillet: npt.NDArray[np.bool_],
    process: Codes,
    position: Codes,
    access: Codes,
    one_sided: npt.NDArray[np.bool_],
    thickness_mm: F32,
    high_strength: npt.NDArray[np.bool_],
    gap_mm: F32,
) -> F64:
    """Ground-truth log-odds that a joint has a defect found at NDT, before the welder effect."""
    return (
        DEFECT_BASE
        + DEFECT_POSITION[position_digit(position)]
        + DEFECT_PROCESS[process]
        + 0.1 * np.maximum(thickness_mm.astype(np.float64) - 10.0, 0.0)
        + 1.2 * one_sided
        + DEFECT_ACCESS[access]
        + 0.4 * high_strength
        + 0.3 * fillet
        + 1.0 * np.maximum(gap_mm.astype(np.float64) - 2.0, 0.0)
    )


def draw_defect_class(
    rng: np.random.Generator,
    process: Codes,
    position: Codes,
    one_sided: npt.NDArray[np.bool_],
    thickness_mm: F32,
) -> npt.NDArray[np.int8]:
    """Defect class (index into DEFECT_CLASSES, never 0 'none') for joints that have a defect."""
    n = len(process)
    w = np.tile(DEFECT_CLASS_WEIGHTS, (n, 1))
    w[:, 1] *= np.where(np.isin(process, [1, 3]), 2.0, 1.0)  # slag: flux-shielded processes
    w[:, 0] *= np.where(process == 2, 1.5, 1.0)  # porosity: gas-shielded GMAW
    w[:, 3] *= np.where(one_sided, 3.0, 1.0)  # incomplete penetration
    out_of_position = position_digit(position) >= 2
    w[:, 2] *= np.where(out_of_position, 2.0, 1.0)
    w[:, 6] *= np.where(out_of_position, 1.5, 1.0)
    w[:, 5] *= np.where(thickness_mm > 20, 2.0, 1.0)
    cdf = np.cumsum(w, axis=1)
    u = rng.random(n) * cdf[:, -1]
    cls = (cdf < u[:, None]).sum(axis=1) + 1
    assert len(DEFECT_CLASSES) == w.shape[1] + 1
    return cls.astype(np.int8)
