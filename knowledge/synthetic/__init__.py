"""The synthetic yard generator: a seeded ship of 5,000 to 25,000,000 parts (see `generator`), imported as a store.

`generate_store` (`pipeline`) is what `shipbrain yard generate` runs: generate -> open yard format -> import.
"""

from knowledge.synthetic.generator import (
    GENERATOR_VERSION,
    MAX_PARTS,
    MIN_PARTS,
    GeneratedYard,
    YardSpec,
    generate_yard,
)
from knowledge.synthetic.pipeline import generate_store

__all__ = [
    "GENERATOR_VERSION",
    "MAX_PARTS",
    "MIN_PARTS",
    "GeneratedYard",
    "YardSpec",
    "generate_store",
    "generate_yard",
]
