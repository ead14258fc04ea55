"""What the brain can read from a yard's node columns: each role's fields, their types, units and bounds.

This is the catalogue `[columns]` in `yard.toml` maps onto. A field feeds one consumer (`feeds`): a model
(welding, outfitting), the scheduler, or the brain's own views. A consumer is unlocked for a yard when every one
of its `required` fields is given; a field that is not required has a default the consumer knows. The words
and bounds mirror the model row schemas in `adapters` (which this layer cannot import; a test in `adapters`
should hold them equal).

Units: a field's `unit` is its canonical unit; a mapping may declare the yard's unit of the same dimension
(`UNITS`) and values are converted on import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

__all__ = [
    "ACTUALS",
    "FIELDS",
    "ROLES",
    "UNITS",
    "Consumer",
    "FieldType",
    "Role",
    "YardField",
    "field_of",
    "unit_factor",
]

Role = Literal["block", "assembly", "sub_assembly", "part", "joint", "outfitting_item", "work_package", "resource"]
"""The roles the brain understands; `[roles]` maps each to the yard's kind or kinds."""
ROLES: Final[tuple[Role, ...]] = get_args(Role)

ACTUALS: Final = "actuals"
"""The `[columns]` section of the actuals table (recorded hours, dates, NDT findings), beside the roles."""

FieldType = Literal["float", "int", "bool", "word", "text", "date", "ref"]
"""float/int: numbers (in `unit`); bool; word: one of `words`; text: free text; date: ISO date; ref: a node id."""

Consumer = Literal["welding", "outfitting", "scheduling", "brain", "actuals"]

UNITS: Final[dict[str, tuple[str, float]]] = {
    "mm": ("length", 1.0),
    "cm": ("length", 10.0),
    "m": ("length", 1000.0),
    "km": ("length", 1_000_000.0),
    "in": ("length", 25.4),
    "ft": ("length", 304.8),
    "g": ("mass", 0.001),
    "kg": ("mass", 1.0),
    "t": ("mass", 1000.0),
    "lb": ("mass", 0.45359237),
    "s": ("time", 1 / 3600),
    "min": ("time", 1 / 60),
    "h": ("time", 1.0),
}
"""Every unit a mapping may declare: its dimension and its size in that dimension's base (mm, kg, h)."""


def unit_factor(unit: str, canonical: str) -> float:
    """The factor that turns a value in `unit` into `canonical` (same dimension; checked by the spec)."""
    return UNITS[unit][1] / UNITS[canonical][1]


@dataclass(frozen=True)
class YardField:
    """One input field the brain reads from node (or actuals) columns."""

    name: str
    """The field's name, as in the model's row schema (`thickness_mm`)."""
    type: FieldType
    feeds: Consumer
    """Who reads it; that consumer is unlocked when all its required fields are given."""
    required: bool = False
    """The consumer cannot work without it (rows of the role must have a value)."""
    unit: str | None = None
    """Canonical unit (a key of `UNITS`), None for dimensionless fields."""
    words: tuple[str, ...] = ()
    """For `word` fields: the only values allowed (after the mapping's value map)."""
    low: float | None = None
    """Smallest allowed value (in `unit`), None for no bound."""
    low_open: bool = False
    """Whether `low` itself is excluded (thickness must be > 0)."""
    high: float | None = None
    """Largest allowed value (in `unit`), None for no bound."""
    doc: str = ""


_JOINT_LEVELS = ("sub_assembly", "assembly", "block", "erection")
_GRADES = ("A", "AH32", "AH36", "DH36", "EH36")
_ITEM_KINDS = ("pipe_spool", "cable_tray", "hvac_duct", "equipment")
_BLOCK_TYPES = ("bottom", "side", "deck", "superstructure")
_STAGES = ("on-unit", "on-block", "on-board")
_MADE_IN = "the work package that makes it (a node id); joints and items name theirs in the same way"

FIELDS: Final[dict[str, tuple[YardField, ...]]] = {
    "block": (
        YardField("block_type", "word", "outfitting", words=_BLOCK_TYPES, doc="block type, feeds its items"),
        YardField("zone", "text", "brain", doc="the fire or vertical zone the block lies in"),
        YardField("weight_t", "float", "scheduling", unit="t", low=0, high=5000, doc="lift weight"),
        YardField("erection_sequence", "int", "scheduling", low=0, doc="order of erection in the dock"),
        YardField("planned_erection", "date", "scheduling", doc="planned erection day"),
        YardField("work_package", "ref", "scheduling", doc="the work package that erects it (a node id)"),
    ),
    "assembly": (
        YardField("weight_t", "float", "brain", unit="t", low=0, high=5000),
        YardField("work_package", "ref", "scheduling", doc=_MADE_IN),
    ),
    "sub_assembly": (
        YardField("weight_t", "float", "brain", unit="t", low=0, high=1000),
        YardField("work_package", "ref", "scheduling", doc=_MADE_IN),
    ),
    "part": (
        YardField("work_package", "ref", "scheduling", doc=_MADE_IN),
        YardField("grade", "word", "brain", words=_GRADES, doc="hull steel grade"),
        YardField("thickness_mm", "float", "brain", unit="mm", low=0, low_open=True, high=200),
        YardField("length_m", "float", "brain", unit="m", low=0, high=100),
        YardField("width_m", "float", "brain", unit="m", low=0, high=50),
        YardField("weight_kg", "float", "brain", unit="kg", low=0, high=1_000_000),
    ),
    "joint": (
        YardField("level", "word", "welding", words=_JOINT_LEVELS, doc="where it is welded (else from its parent)"),
        YardField("joint_type", "word", "welding", required=True, words=("butt", "fillet")),
        YardField("process", "word", "welding", required=True, words=("SAW", "FCAW", "GMAW", "SMAW")),
        YardField("position", "word", "welding", required=True, words=("1G", "2G", "3G", "4G", "1F", "2F", "3F", "4F")),
        YardField("access", "word", "welding", words=("good", "restricted", "poor"), doc="default good"),
        YardField("one_sided", "bool", "welding", doc="welded from one side; default false"),
        YardField("grade", "word", "welding", required=True, words=_GRADES),
        YardField(
            "thickness_mm",
            "float",
            "welding",
            required=True,
            unit="mm",
            low=0,
            low_open=True,
            high=100,
            doc="thinner of the two plates",
        ),
        YardField("length_m", "float", "welding", required=True, unit="m", low=0, low_open=True, high=100),
        YardField("fit_up_gap_mm", "float", "welding", unit="mm", low=0, high=20, doc="default 0"),
        YardField("work_package", "ref", "scheduling", doc="the work package it is done in (a node id)"),
        YardField("norm_hours", "float", "scheduling", unit="h", low=0, doc="planning norm: hours to weld it"),
    ),
    "outfitting_item": (
        YardField("item_kind", "word", "outfitting", required=True, words=_ITEM_KINDS),
        YardField("system", "text", "outfitting", required=True, doc='the ship system, e.g. "fire main"'),
        YardField("length_m", "float", "outfitting", required=True, unit="m", low=0, high=100),
        YardField("diameter_mm", "float", "outfitting", unit="mm", low=0, high=5000, doc="default 0"),
        YardField("weight_t", "float", "outfitting", required=True, unit="t", low=0, high=1000),
        YardField("spans_blocks", "bool", "outfitting", doc="default: from the graph"),
        YardField("work_package", "ref", "scheduling", doc="the work package it is done in (a node id)"),
        YardField("norm_hours", "float", "scheduling", unit="h", low=0, doc="planning norm: hours to fit it"),
        YardField(
            "stage", "word", "brain", words=_STAGES, doc="fitted on a unit, on a block, or on board after erection"
        ),
        YardField(
            "block", "ref", "brain", doc="the block it is fitted in or on, when that is not its production parent"
        ),
        YardField("zone", "text", "brain", doc="the fire or vertical zone it lies in (else its block's)"),
    ),
    "work_package": (
        YardField("trade", "text", "scheduling", required=True, doc="the trade that does it"),
        YardField("resource", "ref", "scheduling", doc="the resource it runs on (a node id)"),
        YardField("crane", "ref", "scheduling", doc="the crane it needs (a resource's node id), if any"),
        YardField("block", "ref", "scheduling", doc="the block it works on (a node id)"),
        YardField("crew", "int", "scheduling", low=0, high=10_000),
        YardField("estimated_hours", "float", "scheduling", required=True, unit="h", low=0),
        YardField("planned_start", "date", "scheduling"),
        YardField("planned_finish", "date", "scheduling"),
    ),
    "resource": (
        YardField("resource_kind", "text", "scheduling", required=True, doc="panel line, workshop, crane, dock"),
        YardField("capacity", "int", "scheduling", required=True, low=0, high=10_000),
        YardField("lift_capacity_t", "float", "scheduling", unit="t", low=0, high=100_000),
    ),
    ACTUALS: (
        YardField("hours", "float", "actuals", unit="h", low=0, doc="hours booked"),
        YardField("start", "date", "actuals"),
        YardField("finish", "date", "actuals"),
        YardField("defect", "bool", "actuals", doc="NDT found a defect"),
        YardField("defect_class", "text", "actuals", doc="what NDT found"),
        YardField("rework", "bool", "actuals"),
        YardField(
            "expected_hours",
            "float",
            "actuals",
            unit="h",
            low=0,
            doc="a simulated yard's ground truth: the hours before noise (the floor no model can beat)",
        ),
        YardField("defect_logit", "float", "actuals", doc="a simulated yard's ground truth: defect log-odds"),
    ),
}
"""Each role's fields (and the actuals table's), by the `[columns]` section that maps them."""


def field_of(section: str, name: str) -> YardField | None:
    """The field `name` of `section` (a role or "actuals"), None if there is none."""
    return next((f for f in FIELDS.get(section, ()) if f.name == name), None)
