"""Random weld joints as the welding model reads them, for benchmarks and tests that need rows of any size.

`python benchmarks/v2_throughput.py` imports it as `_weld_joints` (after `_common`, which puts the repository first
on `sys.path`); tests import it as `benchmarks._weld_joints`. Needs only numpy, pyarrow and `adapters.welding`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from adapters.welding import ACCESS, GRADES, JOINT_LEVELS, JOINT_TYPES, POSITIONS, PROCESSES

__all__ = ["weld_joints"]


def weld_joints(rows: int, seed: int = 0) -> pa.Table:
    """`rows` weld joint rows, every field drawn uniformly over the model's words and ranges (from `seed`)."""
    rng = np.random.default_rng(seed)

    def words(choices: tuple[str, ...]) -> pa.Array:
        return pa.array(np.asarray(choices, dtype=object)[rng.integers(0, len(choices), rows)], pa.string())

    return pa.table(
        {
            "level": words(JOINT_LEVELS),
            "joint_type": words(JOINT_TYPES),
            "process": words(PROCESSES),
            "position": words(POSITIONS),
            "access": words(ACCESS),
            "one_sided": pa.array(rng.integers(0, 2, rows).astype(bool)),
            "grade": words(GRADES),
            "thickness_mm": rng.uniform(4, 40, rows),
            "length_m": rng.uniform(0.2, 12, rows),
            "fit_up_gap_mm": rng.uniform(0, 4, rows),
        }
    )
