"""Shipbrain's one settings object.

It lives in `knowledge`, the lowest layer, because every layer reads it and a layer may import only
from those below it. Values come from (highest first) keyword arguments, `SHIPBRAIN_*` environment
variables, a `.env` file in the working directory, and the embedded defaults, which need nothing
running.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Where Shipbrain keeps its data and which services it uses."""

    model_config = SettingsConfigDict(env_prefix="SHIPBRAIN_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Path(".shipbrain")
    """Everything Shipbrain generates (yards, indexes, run stores) lives below this folder."""

    demo_parts: int = Field(default=200_000, ge=5_000, le=25_000_000)
    """Size of the demo yard made on first start, in parts (hull parts plus outfitting items)."""

    demo_seed: int = Field(default=7, ge=0)
    """Seed of the demo yard."""

    executor: Literal["auto", "in-process", "ray"] = "auto"
    """Where batch inference runs: "auto" sends jobs of `ray_min_rows` rows or more (or every job, when
    `RAY_ADDRESS` names a cluster) to Ray and keeps the rest in-process."""

    ray_min_rows: int = Field(default=5_000_000, ge=0)
    """Rows from which "auto" uses Ray."""

    ray_node_ip: str | None = None
    """The IP address this process's Ray node uses (Ray's own guess by default). A one-machine test
    cluster can be kept on loopback with, e.g., 127.0.0.2: Ray replaces 127.0.0.1 itself."""

    qdrant_url: str | None = None
    """A Qdrant server for the document store; by default an embedded store in `data_dir/qdrant`."""

    postgres_dsn: str | None = None
    """A PostgreSQL database (e.g. "postgresql://user:pass@host/db") for the brain's checkpoints and the service's
    runs; by default SQLite files in `data_dir`."""

    llm_base_url: str | None = None
    """An OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server) for the LLM planner, e.g.
    "http://127.0.0.1:11434/v1"; without it the offline planner answers."""

    llm_model: str | None = None
    """The chat model's name at `llm_base_url` (e.g. "qwen2.5:7b-instruct")."""

    llm_api_key: SecretStr = SecretStr("not-needed")
    """The key the chat endpoint wants, if any."""

    llm_timeout_s: float = Field(default=60.0, gt=0)
    """Per-call timeout of the chat model, seconds (each call is retried twice)."""

    checkpoint_retention_days: float = Field(default=30.0, ge=0)
    """Conversations idle longer than this many days are deleted from the brain's checkpoints, except one waiting
    for a decision on a plan change (`SHIPBRAIN_CHECKPOINT_RETENTION_DAYS`; 0 keeps them). Within a conversation
    only its latest checkpoint is kept (`brain.checkpoints`)."""

    checkpoint_prune_interval_s: float = Field(default=3_600.0, ge=0)
    """How often `shipbrain serve` prunes the brain's checkpoints, seconds (`SHIPBRAIN_CHECKPOINT_PRUNE_INTERVAL_S`;
    0: only `shipbrain checkpoints prune` does)."""

    checkpoint_compress: bool = True
    """Write the brain's checkpoints zlib-compressed (`SHIPBRAIN_CHECKPOINT_COMPRESS`). Both kinds are always read;
    the release before compression reads only plain ones, so a downgrade needs `false` first: a conversation is
    then rewritten plain by its next question and cut to that checkpoint by the next prune (one asked nothing
    since stays unreadable to the older release)."""

    progress: bool = False
    """Show progress bars even when stderr is not a terminal (e.g. in CI logs)."""

    @property
    def yards_dir(self) -> Path:
        """Folder holding generated yard directories."""
        return self.data_dir / "yards"

    @property
    def demo_yard_dir(self) -> Path:
        """The demo yard's directory."""
        return self.yards_dir / "demo"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
