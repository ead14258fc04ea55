"""`test-sleep`: a workflow for the service's tests: some steps, each sleeping a while, optionally failing."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from workflows.base import ProgressCallback, Steps, WorkflowContext, workflow
from workflows.errors import WorkflowInputError


class SleepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=1, ge=1, le=100)
    seconds_per_step: float = Field(default=0.0, ge=0, le=30)
    tag: str = Field(default="", max_length=100)
    refuse: bool = False
    crash: bool = False
    nan_result: bool = False

    @model_validator(mode="after")
    def _refuse_or_crash(self) -> SleepRequest:
        """refuse and crash: at most one of them."""
        if self.refuse and self.crash:
            raise ValueError("refuse or crash, not both")
        return self


class SleepResult(BaseModel):
    tag: str
    steps: int
    nodes: int


class NanResult(SleepResult):
    """What a careless plug-in might return: a number JSON cannot hold."""

    score: float


@workflow(
    name="test-sleep",
    version="1",
    title="Sleeps, for tests",
    description="Sleeps `seconds_per_step` in each of `steps` steps.",
    request=SleepRequest,
    result=SleepResult,
)
def run_sleep(ctx: WorkflowContext, request: SleepRequest, progress: ProgressCallback) -> SleepResult:
    steps = Steps(progress, [f"step-{k}" for k in range(request.steps)])
    for k in range(request.steps):
        steps.start(f"step-{k}")
        time.sleep(request.seconds_per_step)
    if request.refuse:
        raise WorkflowInputError("refused as asked", field="refuse")
    if request.crash:
        raise RuntimeError("crashed as asked")
    steps.done()
    if request.nan_result:
        return NanResult(tag=request.tag, steps=request.steps, nodes=ctx.yard.num_nodes, score=float("nan"))
    return SleepResult(tag=request.tag, steps=request.steps, nodes=ctx.yard.num_nodes)
