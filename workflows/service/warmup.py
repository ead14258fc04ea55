"""Warming the yard in the background while the service already answers.

On the 25M-part yard the first schedule question after a start took 90 s: both models over 22.5M joints and a
CP-SAT solve. `shipbrain serve` therefore answers at once and runs `YardContext.warm` in a background thread,
which computes both models' predictions over the yard and the adopted schedule, or reads them from the yard's
cache on disk (`brain.core.cache`: kept per yard and model version), so after a restart the warm-up reads what
an earlier start computed. The service's one context is the brain's and the workflows' (`ServiceState`), so
warming it serves both.

Progress goes to a callback (the console's lines, from `shipbrain serve`) and shows in `/healthz`:

```json
{"status": "ok", "warm_up": {"state": "warming", "step": "welding predictions", "done": 0, "total": 3,
 "seconds": 1.4, "error": null}}
```
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal, TypedDict

from brain.core import YardContext

__all__ = ["WarmState", "Warmup", "WarmupJson"]

log = logging.getLogger(__name__)

WarmState = Literal["waiting", "warming", "ready", "failed"]


class WarmupJson(TypedDict):
    """The warm-up as `/healthz` shows it."""

    state: WarmState
    step: str | None
    done: int
    total: int
    seconds: float
    error: str | None


class Warmup:
    """Runs `ctx.warm` once in a daemon thread and keeps its progress.

    Args:
        ctx: the yard to warm (the service's one context).
        report: also told `(step, done, total)` as each step starts, and `("done", total, total)` at the end.
    """

    def __init__(self, ctx: YardContext, report: Callable[[str, int, int], None] | None = None) -> None:
        self.ctx = ctx
        self._report = report
        self._lock = threading.Lock()
        self._state: WarmState = "waiting"
        self._step: str | None = None
        self._done = 0
        self._total = 0
        self._error: str | None = None
        self._started: float | None = None
        self._seconds = 0.0
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()

    def start(self) -> None:
        """Start warming (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._state, self._started = "warming", time.monotonic()
            self._thread = threading.Thread(target=self._run, name="shipbrain-warm-up", daemon=True)
        self._thread.start()

    def _progress(self, step: str, done: int, total: int) -> None:
        with self._lock:
            self._step, self._done, self._total = step, done, total
        if self._report is not None:
            try:
                self._report(step, done, total)
            except Exception:  # a console that fails must not stop the warm-up
                log.exception("warm-up progress report failed")

    def _run(self) -> None:
        try:
            ctx = self.ctx
            # First what every request may need (quick, and made under the context's lock, which the predictions
            # then hold for long): the work-package index, day 0 and the plan book.
            _ = ctx.index, ctx.day_zero, ctx.plan
            ctx.warm(self._progress)
        except Exception as exc:
            log.exception("warming the yard failed; questions compute what they need when asked")
            with self._lock:
                self._state, self._error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            with self._lock:
                self._state = "ready"
        finally:
            with self._lock:
                self._seconds = time.monotonic() - (self._started or time.monotonic())
            self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the warm-up ended (or `timeout` seconds); whether it has (True if it never started)."""
        if self._thread is None:
            return True
        return self._finished.wait(timeout)

    @property
    def state(self) -> WarmState:
        """The state: waiting (not started), warming, ready or failed."""
        with self._lock:
            return self._state

    def status(self) -> WarmupJson:
        """The warm-up's state, step and time so far."""
        with self._lock:
            running = self._state == "warming" and self._started is not None
            seconds = time.monotonic() - self._started if running and self._started is not None else self._seconds
            return {
                "state": self._state,
                "step": self._step,
                "done": self._done,
                "total": self._total,
                "seconds": round(seconds, 1),
                "error": self._error,
            }
