"""What every transport does: move named tensors to a model and back, with timeouts and retries.

A transport knows nothing of rows, schemas or the yard: an adapter encodes its rows into named
tensors (`dict[str, np.ndarray]`, as the Open Inference Protocol v2 names them), the transport
runs the model wherever it lives, and the adapter decodes the named output tensors. Transports are
injected into adapters, which is also how tests swap them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["CallPolicy", "Tensors", "Transport"]

Tensors = Mapping[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class CallPolicy:
    """Timeouts, retries and circuit breaking for one model's calls."""

    timeout_s: float = 30.0
    """Seconds to wait for one call's answer."""
    connect_timeout_s: float = 5.0
    """Seconds to wait for a connection (remote transports)."""
    max_attempts: int = 4
    """Attempts per call, the first included; only transient failures are retried."""
    backoff_initial_s: float = 0.2
    """Wait before the first retry; doubles each retry, with jitter."""
    backoff_max_s: float = 5.0
    """Longest wait between two retries."""
    breaker_failures: int = 5
    """Consecutive failed calls (after their retries) that open the circuit."""
    breaker_reset_s: float = 30.0
    """Seconds an open circuit refuses calls before it lets one through to test the model."""


@runtime_checkable
class Transport(Protocol):
    """Runs one model: named input tensors in, named output tensors out."""

    kind: str
    """Short transport name used in errors and `models describe`: "callable", "onnx", "v2", "openai-chat"."""

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Run the model on a batch.

        Raises:
            ModelCallError: (or a subclass) naming the model, this transport and what happened.
        """
        ...

    def close(self) -> None:
        """Release connections, sessions and threads."""
        ...
