"""Errors of the brain: threads that cannot take a question now, decisions nobody asked for."""

from __future__ import annotations

from knowledge.errors import InputError, ShipbrainError

__all__ = [
    "BrainError",
    "NoPendingApprovalError",
    "PlanChangedError",
    "PlannerError",
    "ThreadBusyError",
    "UnknownThreadError",
]


class BrainError(ShipbrainError):
    """Base class of the brain's own errors."""


class UnknownThreadError(InputError, BrainError):
    """A thread id that names no conversation."""


class ThreadBusyError(BrainError):
    """The thread is answering another question, or waits for a person's decision, and cannot take this one."""


class NoPendingApprovalError(InputError, BrainError):
    """A decision was sent to a thread that waits for none."""


class PlannerError(BrainError):
    """The chat model failed to plan (unreachable, timed out, or refused the request) and no fallback was set.

    A service failure: the client already retried it; check the LLM endpoint, or plan offline.
    """


class PlanChangedError(BrainError):
    """The yard's plan changed since a change was computed: adopting it now would adopt something nobody saw.

    The caller computes the change again against the current plan (the service answers 409 `plan_changed`).
    """
