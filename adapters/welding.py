"""The welding model: per weld joint, predicted hours and the probability of a defect found at NDT.

Shipped as one ONNX graph (two gradient-boosted ensembles, trained by `shipbrain models train`):
input `features` FP32 [n, 10], outputs `hours` FP32 [n] and `defect_probability` FP32 [n]. The
same graph can be served by any Open Inference Protocol v2 server (Triton, KServe, MLServer).

The words the model knows (levels, processes, positions, ...) are its contract, declared here as the row
schema's `Literal`s: a categorical column is encoded as the word's index in its tuple, the order the shipped
models were trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from adapters._yardrows import neighbour_blocks, role_nodes, role_rows_with_defaults
from adapters.registry import adapter, config_factory
from adapters.schema import category_codes
from adapters.spec import AdapterSpec, ModelAdapter
from adapters.transports.base import Transport
from knowledge.store import YardStore

__all__ = [
    "ACCESS",
    "GRADES",
    "JOINT_DEFAULTS",
    "JOINT_LEVELS",
    "JOINT_TYPES",
    "POSITIONS",
    "PROCESSES",
    "REQUIRED_JOINT_FIELDS",
    "WELD_FEATURES",
    "Access",
    "Grade",
    "JointLevel",
    "JointType",
    "Position",
    "Process",
    "WeldJointRow",
    "WeldPredictionRow",
    "WeldingAdapter",
    "encode_joints",
    "from_config",
    "joint_levels",
    "welding_spec",
]

JointLevel = Literal["sub_assembly", "assembly", "block", "erection"]
"""Where a joint is welded: panel line (sub-assembly) to the dock (erection)."""
JointType = Literal["butt", "fillet"]
Process = Literal["SAW", "FCAW", "GMAW", "SMAW"]
"""Submerged arc, flux-cored, gas metal arc, shielded metal arc (stick) welding."""
Position = Literal["1G", "2G", "3G", "4G", "1F", "2F", "3F", "4F"]
"""Flat, horizontal, vertical, overhead (1-4) of a groove (G, butt) or fillet (F) weld."""
Access = Literal["good", "restricted", "poor"]
Grade = Literal["A", "AH32", "AH36", "DH36", "EH36"]
"""Hull steel grade of the joint's stronger plate."""

JOINT_LEVELS: Final = get_args(JointLevel)
JOINT_TYPES: Final = get_args(JointType)
PROCESSES: Final = get_args(Process)
POSITIONS: Final = get_args(Position)
ACCESS: Final = get_args(Access)
GRADES: Final = get_args(Grade)

WELD_FEATURES: Final = (
    "level",
    "fillet",
    "process",
    "position_digit",
    "access",
    "one_sided",
    "grade",
    "thickness_mm",
    "length_m",
    "fit_up_gap_mm",
)
"""Columns of the `features` tensor, in order (a word as its index in its tuple above; the position as its
digit 0-3: flat, horizontal, vertical, overhead)."""

_NUMBERS: Final = ("thickness_mm", "length_m", "fit_up_gap_mm")


class WeldJointRow(BaseModel):
    """One weld joint, as the MES or the yard's tables describe it."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    level: JointLevel
    """Where the joint is welded: panel line (sub-assembly) to the dock (erection)."""
    joint_type: JointType
    process: Process
    position: Position
    access: Access
    one_sided: bool
    """Welded from one side (on ceramic backing)."""
    grade: Grade
    thickness_mm: float = Field(gt=0, le=100)
    """Thinner of the two plates, mm."""
    length_m: float = Field(gt=0, le=100)
    """Weld length, m."""
    fit_up_gap_mm: float = Field(ge=0, le=20)
    """Root gap measured at fit-up inspection, mm."""


class WeldPredictionRow(BaseModel):
    """The model's answer for one joint."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    hours: float = Field(ge=0)
    """Predicted welding hours (fit-up to finished weld)."""
    defect_probability: float = Field(ge=0, le=1)
    """Probability that NDT finds a defect needing repair."""


def encode_joints(batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.float32]:
    """The `features` tensor [n, 10] of validated joint rows (see `WELD_FEATURES`)."""
    position = category_codes(batch.column("position"), POSITIONS)
    columns = [
        category_codes(batch.column("level"), JOINT_LEVELS),
        category_codes(batch.column("joint_type"), JOINT_TYPES),
        category_codes(batch.column("process"), PROCESSES),
        position % 4,
        category_codes(batch.column("access"), ACCESS),
        np.asarray(batch.column("one_sided").to_numpy(zero_copy_only=False), dtype=np.float32),
        category_codes(batch.column("grade"), GRADES),
        *(np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float32) for name in _NUMBERS),
    ]
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float32)


def welding_spec(version: str, transport: str, batch_size: int = 262_144) -> AdapterSpec:
    """The welding model's spec."""
    return AdapterSpec(
        name="welding",
        system="welding",
        version=version,
        owner="welding engineering",
        description=(
            "Per weld joint: predicted welding hours and the probability that NDT finds a defect. Use it to "
            "estimate welding work for a block or work package, and to choose which joints to inspect."
        ),
        input_schema=WeldJointRow,
        output_schema=WeldPredictionRow,
        batch_size=batch_size,
        transport=transport,
        role="joint",
        key_column="node",
    )


@adapter("welding")
class WeldingAdapter(ModelAdapter):
    """Welding hours and defect risk per joint, over any transport that serves the welding graph."""

    def __init__(self, transport: Transport, version: str, batch_size: int = 262_144) -> None:
        super().__init__(welding_spec(version, transport.kind, batch_size), transport)

    def encode(self, batch: pa.RecordBatch | pa.Table) -> dict[str, npt.NDArray[np.generic]]:
        """Rows to the `features` tensor."""
        return {"features": encode_joints(batch)}

    def decode(self, outputs: Mapping[str, npt.NDArray[np.generic]], batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """`hours` and `defect_probability` tensors to rows."""
        hours = np.asarray(outputs.get("hours", np.empty(0)), dtype=np.float64).reshape(-1)
        risk = np.asarray(outputs.get("defect_probability", np.empty(0)), dtype=np.float64).reshape(-1)
        return pa.table({"hours": hours, "defect_probability": risk})

    @staticmethod
    def yard_rows(yard: YardStore, nodes: npt.ArrayLike | None = None) -> pa.Table:
        """The yard's joints (all, or those among `nodes`) as input rows, in node order.

        Columns `node` (int32), `block` (int32 block node, -1 none), then `WeldJointRow`'s fields. Fields the
        yard does not give (or a row leaves empty) take the model's defaults: `access` "good", `one_sided`
        false, `fit_up_gap_mm` 0, and `level` from where the joint sits (`joint_levels`).

        Raises:
            MissingFieldError: the yard gives no joints, or not one of the fields the model cannot do without
                (`REQUIRED_JOINT_FIELDS`); it names the field and how to map it.
        """
        chosen = role_nodes(yard, "joint", nodes)
        columns = role_rows_with_defaults(
            yard,
            "joint",
            chosen,
            list(WeldJointRow.model_fields),
            REQUIRED_JOINT_FIELDS,
            JOINT_DEFAULTS,
            "the welding model",
        )
        block = yard.block_of(chosen)
        given = columns.get("level")
        if given is None or given.null_count:
            missing = np.arange(len(chosen)) if given is None else np.flatnonzero(given.is_null().to_numpy())
            levels = np.asarray([None] * len(chosen) if given is None else given.to_pylist(), dtype=object)
            levels[missing] = joint_levels(yard, chosen[missing], block[missing])
            columns["level"] = pa.array(levels.tolist(), pa.string())
        return pa.table(
            {
                "node": pa.array(chosen, pa.int32()),
                "block": pa.array(block, pa.int32()),
                **{name: columns[name] for name in WeldJointRow.model_fields},
            }
        )


REQUIRED_JOINT_FIELDS: Final = ("joint_type", "process", "position", "grade", "thickness_mm", "length_m")
"""The joint fields the welding model cannot do without (a yard that lacks one gets a `MissingFieldError`)."""
JOINT_DEFAULTS: Final[dict[str, object]] = {"access": "good", "one_sided": False, "fit_up_gap_mm": 0.0}
"""What a joint field the yard does not give is taken to be (`level` is derived: `joint_levels`)."""


def joint_levels(yard: YardStore, joints: npt.NDArray[np.int32], blocks: npt.NDArray[np.int32]) -> npt.NDArray[np.str_]:
    """Where each joint is welded, from where it sits in the production hierarchy.

    Its nearest production ancestor's role: a sub-assembly or assembly joint closes that unit; a joint of a
    block (or of none) is an "erection" joint when the graph links it to a node of another block (the block it
    joins), else a "block" joint.
    """
    levels = np.full(len(joints), "block", dtype=object)
    if not len(joints):
        return levels.astype(str)
    nearest = np.full(len(joints), -1, dtype=np.int64)
    for role in ("block", "assembly", "sub_assembly"):
        ancestor = yard.ancestor_of(joints, role).astype(np.int64)
        deeper = ancestor > nearest  # an ancestor inside another's range has the larger node number
        levels[deeper] = role
        nearest = np.maximum(nearest, ancestor)
    at_block = np.flatnonzero(levels == "block")
    if len(at_block):
        position, other = neighbour_blocks(yard, joints[at_block])
        own = blocks[at_block].astype(np.int64)[position]
        joins = np.zeros(len(at_block), dtype=bool)
        joins[position[other != own]] = True
        levels[at_block[joins]] = "erection"
    return levels.astype(str)


from_config = config_factory(WeldingAdapter)
"""Builds the adapter from a config entry (as `factory = "adapters.welding:from_config"`; `@adapter` registers it)."""
