"""The independent schedule validator now lives in the product (`adapters.scheduling.validate`): re-exported here."""

from __future__ import annotations

from adapters.scheduling.validate import violations

__all__ = ["violations"]
