"""Fixed value sets of the synthetic yard, in the order their integer codes use.

Categorical columns are stored as Arrow dictionary arrays over these tuples, so a Parquet reader
sees the words while the generator only handles small integers.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "ACCESS",
    "BLOCK_TYPES",
    "DEFECT_CLASSES",
    "GRADES",
    "HIGH_STRENGTH_GRADES",
    "ITEM_KINDS",
    "JOINT_LEVELS",
    "JOINT_TYPES",
    "PART_KINDS",
    "POSITIONS",
    "PROCESSES",
    "RESOURCE_KINDS",
    "STAGES",
    "SYSTEMS",
    "TRADES",
    "TRADE_MAKES",
    "TRADE_NAMES",
    "TRADE_RESOURCE_KINDS",
    "Access",
    "BlockType",
    "DefectClass",
    "Grade",
    "ItemKind",
    "JointLevel",
    "JointType",
    "PartKind",
    "Position",
    "Process",
    "ResourceKind",
    "Stage",
    "Trade",
]

BlockType = Literal["bottom", "side", "deck", "superstructure"]
PartKind = Literal["plate", "profile", "bracket"]
Grade = Literal["A", "AH32", "AH36", "DH36", "EH36"]
JointType = Literal["butt", "fillet"]
Process = Literal["SAW", "FCAW", "GMAW", "SMAW"]
Position = Literal["1G", "2G", "3G", "4G", "1F", "2F", "3F", "4F"]
Access = Literal["good", "restricted", "poor"]
JointLevel = Literal["sub_assembly", "assembly", "block", "erection"]
DefectClass = Literal[
    "none",
    "porosity",
    "slag_inclusion",
    "lack_of_fusion",
    "incomplete_penetration",
    "undercut",
    "crack",
    "overlap",
    "burn_through",
]
ItemKind = Literal["pipe_spool", "cable_tray", "hvac_duct", "equipment"]
Stage = Literal["on-unit", "on-block", "on-board"]
Trade = Literal["PNL", "ASM", "OFB", "ERE", "OBD"]
ResourceKind = Literal["panel_line", "workshop", "outfitting_hall", "crane", "dock"]

BLOCK_TYPES: Final = get_args(BlockType)
PART_KINDS: Final = get_args(PartKind)
GRADES: Final = get_args(Grade)
HIGH_STRENGTH_GRADES: Final = ("AH36", "DH36", "EH36")
JOINT_TYPES: Final = get_args(JointType)
PROCESSES: Final = get_args(Process)
POSITIONS: Final = get_args(Position)
ACCESS: Final = get_args(Access)
JOINT_LEVELS: Final = get_args(JointLevel)
DEFECT_CLASSES: Final = get_args(DefectClass)
ITEM_KINDS: Final = get_args(ItemKind)
STAGES: Final = get_args(Stage)
TRADES: Final = get_args(Trade)
RESOURCE_KINDS: Final = get_args(ResourceKind)

TRADE_NAMES: Final[dict[Trade, str]] = {
    "PNL": "panel and sub-assembly fabrication",
    "ASM": "assembly and block welding",
    "OFB": "on-unit and on-block outfitting",
    "ERE": "erection in the building dock",
    "OBD": "on-board outfitting",
}
TRADE_RESOURCE_KINDS: Final[dict[Trade, ResourceKind | None]] = {
    "PNL": "panel_line",
    "ASM": "workshop",
    "OFB": "outfitting_hall",
    "ERE": "dock",
    "OBD": None,
}
"""The kind of resource each trade's work packages run on; on-board outfitting happens in the ship and needs none."""
TRADE_MAKES: Final[dict[Trade, tuple[str, ...]]] = {
    "PNL": ("part", "sub_assembly"),
    "ASM": ("assembly",),
    "OFB": (),
    "ERE": ("block",),
    "OBD": (),
}
"""The node kinds a work package of each trade makes; joints and outfitting items name their work package."""

SYSTEMS: Final[dict[ItemKind, tuple[str, ...]]] = {
    "pipe_spool": (
        "ballast water",
        "bilge",
        "fire main",
        "sprinkler",
        "water mist",
        "fresh water",
        "hot water",
        "grey water",
        "black water",
        "fuel oil",
        "lube oil",
        "sea water cooling",
        "fresh water cooling",
        "chilled water",
        "steam",
        "condensate",
        "compressed air",
        "hydraulic oil",
        "scrubber wash water",
        "sludge",
        "deck drain",
        "sounding and vent",
        "foam fire fighting",
        "pool water",
        "galley drain",
    ),
    "cable_tray": (
        "main power distribution",
        "emergency power",
        "lighting",
        "navigation",
        "fire detection",
        "public address",
        "CCTV",
        "access control",
        "IT network",
        "entertainment",
        "cabin automation",
        "alarm and monitoring",
        "propulsion control",
        "shore connection",
        "low-location lighting",
    ),
    "hvac_duct": (
        "cabin supply air",
        "cabin exhaust air",
        "public space supply air",
        "public space exhaust air",
        "galley exhaust",
        "engine room ventilation",
        "smoke extraction",
        "laundry exhaust",
        "provision store cooling",
        "theatre air handling",
    ),
    "equipment": (
        "main engines",
        "generator sets",
        "propulsion motors",
        "pumps",
        "separators",
        "boilers",
        "air conditioning plants",
        "fresh water generators",
        "galley equipment",
        "laundry equipment",
        "stabilisers",
        "thrusters",
        "elevators",
        "lifeboats and davits",
        "switchboards",
    ),
}
"""Ship systems by the kind of outfitting item that carries them (65 systems in all)."""
