"""The synthetic yard generator: a seeded ship of 5,000 to 25,000,000 parts (see `generator`)."""

from knowledge.synthetic.generator import (
    GENERATOR_VERSION,
    MAX_PARTS,
    MIN_PARTS,
    GeneratedYard,
    YardSpec,
    generate_yard,
)

__all__ = ["GENERATOR_VERSION", "MAX_PARTS", "MIN_PARTS", "GeneratedYard", "YardSpec", "generate_yard"]
