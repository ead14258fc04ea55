"""A yard team's plug-in model, registered the way a third-party package would: `@adapter` in its own module."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from adapters.registry import ModelConfig, adapter
from adapters.spec import AdapterSpec


class AreaRow(BaseModel):
    area_m2: float = Field(ge=0)


class HoursRow(BaseModel):
    hours: float = Field(ge=0)


@adapter("painting")
class PaintingAdapter:
    """Painting hours from the painted area, at 0.1 h per square metre."""

    def __init__(self, version: str = "0.1") -> None:
        self.spec = AdapterSpec(
            name="painting",
            system="painting",
            version=version,
            owner="paint shop",
            description="Painting hours per area.",
            input_schema=AreaRow,
            output_schema=HoursRow,
            transport="in-process",
        )

    @classmethod
    def from_config(cls, name: str, config: ModelConfig) -> PaintingAdapter:
        return cls(config.version or "0.1")

    def predict(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        return pa.table({"hours": pc.multiply(batch.column("area_m2"), 0.1)})

    def close(self) -> None:
        pass
