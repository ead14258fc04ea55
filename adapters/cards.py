"""Model cards: what a shipped model is, how it was made, and how well it does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.errors import AdapterConfigError

__all__ = ["MODELS_DIR", "ModelCard", "load_card"]

MODELS_DIR: Final = Path(__file__).parent / "models"
"""Where the reference models and their cards ship."""


class ModelCard(BaseModel):
    """What a shipped model is, how it was made, and how well it does on blocks it never saw."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    onnx_file: str
    onnx_sha256: str
    features: list[str]
    inputs: dict[str, str]
    outputs: dict[str, str]
    training_yard: dict[str, Any]
    """Seed, parts and generator version of the yard the model was trained on."""
    rows: dict[str, int]
    """Training and held-out rows."""
    params: dict[str, Any]
    metrics: dict[str, float]
    """Held-out metrics, their baselines and the ground truth's noise floor."""


def load_card(onnx_path: Path) -> ModelCard | None:
    """The card beside an ONNX file (`NAME.card.json` next to `NAME.onnx`), or None if there is none."""
    path = onnx_path.with_suffix(".card.json")
    if not path.is_file():
        return None
    try:
        return ModelCard.model_validate(json.loads(path.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise AdapterConfigError(f"model card {str(path)!r} is unreadable: {exc}") from None
