"""The adapter contract: what a yard model promises, and the base class that keeps the promise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from adapters.errors import ModelResponseError
from adapters.schema import column_rules, validate_batch
from adapters.transports.base import Transport
from knowledge.yardformat.fields import ROLES

__all__ = ["Adapter", "AdapterSpec", "ModelAdapter"]

Batch: TypeAlias = pa.RecordBatch | pa.Table


class AdapterSpec(BaseModel):
    """Who a model is, what it takes and gives, and how it is reached."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    """Registry name, e.g. "welding"."""
    system: str
    """The production process the model serves: "welding", "outfitting", "scheduling"."""
    version: str
    """The model's version; recorded with every prediction so runs can be compared."""
    owner: str
    """The team that owns the model and answers for it."""
    description: str
    """What the model does, written for a planner (the brain shows it to choose tools)."""
    input_schema: type[BaseModel]
    """One input row."""
    output_schema: type[BaseModel]
    """One output row, aligned with the input row."""
    batch_size: int = Field(default=65_536, gt=0)
    """Rows per call to the model (already capped at `server_max_batch`)."""
    in_flight: int = Field(default=1, gt=0)
    """Batches `predict` keeps in flight at once over a remote transport (1: one after another). While the server
    computes one batch the next one travels; outputs keep the input's order either way."""
    server_max_batch: int | None = Field(default=None, gt=0)
    """The largest batch the model's server accepts, where it publishes one (a v2 server's `max_batch_size`)."""
    transport: str
    """How the model is reached: "callable", "onnx", "v2", "openai-chat", "in-process"."""
    role: str | None = None
    """The yard role whose nodes the model scores (`knowledge.yardformat.ROLES`: "joint", "outfitting_item", ...),
    None for a model that scores no yard nodes; its adapter's `yard_rows(yard, nodes)` reads them."""
    key_column: str | None = None
    """The column of `yard_rows` that names each row's node ("node"), if any."""

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str | None) -> str | None:
        if role is not None and role not in ROLES:
            raise ValueError(f"no role {role!r}; roles: {', '.join(ROLES)}")
        return role

    def describe(self) -> dict[str, JsonValue]:
        """A JSON-ready description, with the row schemas as JSON Schema."""
        out: dict[str, JsonValue] = self.model_dump(mode="json", exclude={"input_schema", "output_schema"})
        out["input_schema"] = self.input_schema.model_json_schema()
        out["output_schema"] = self.output_schema.model_json_schema()
        return out


@runtime_checkable
class Adapter(Protocol):
    """A yard model as a tool: a spec and a columnar predict."""

    spec: AdapterSpec

    def predict(self, batch: Batch) -> pa.Table:
        """Score every row of `batch` (an Arrow record batch or table); output rows align with input rows."""
        ...

    def close(self) -> None:
        """Release the model's resources."""
        ...


class ModelAdapter(ABC):
    """Base of the adapters whose model is reached through a `Transport`.

    `predict` validates the input rows (before any model runs), encodes them into named tensors,
    calls the transport batch by batch, decodes the answer into output rows and validates those
    too, so a model that breaks its contract is caught at the boundary, never downstream.
    """

    spec: AdapterSpec

    def __init__(self, spec: AdapterSpec, transport: Transport) -> None:
        self.spec = spec
        self.transport = transport

    @abstractmethod
    def encode(self, batch: Batch) -> dict[str, npt.NDArray[np.generic]]:
        """Turn validated input rows into the model's named input tensors."""

    @abstractmethod
    def decode(self, outputs: Mapping[str, npt.NDArray[np.generic]], batch: Batch) -> pa.Table:
        """Turn the model's named output tensors into output rows aligned with `batch`."""

    def validate(self, batch: Batch) -> None:
        """Check input rows against the input schema (raises `SchemaError` with row and field)."""
        validate_batch(self.spec.name, self.spec.input_schema, batch)

    def predict(self, batch: Batch, *, validated: bool = False) -> pa.Table:
        """Validate (unless the caller already did), then score in batches of `spec.batch_size`.

        The result has one row per input row, in order. No rows make no call: the result is `empty_result()`.
        With `spec.in_flight` > 1, that many batches are sent at once (each from its own thread; the transport's
        retries and circuit breaker apply to each call as with one). A batch that fails fails the whole call, with
        no partial output: batches not yet sent are not sent, those in flight are waited for, then the error of
        the earliest failed batch is raised.
        """
        if not validated:
            self.validate(batch)
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if table.num_rows == 0:
            return self.empty_result()
        size = self.spec.batch_size
        chunks = [table.slice(start, size) for start in range(0, table.num_rows, size)]
        pieces = []
        answers = self._infer_all(chunks)
        try:
            for index, (chunk, outputs) in enumerate(zip(chunks, answers, strict=True)):
                decoded = self.decode(outputs, chunk)
                if decoded.num_rows != chunk.num_rows:
                    raise ModelResponseError(
                        self.spec.name,
                        self.transport.kind,
                        f"{decoded.num_rows} output rows for {chunk.num_rows} inputs",
                    )
                try:
                    validate_batch(self.spec.name, self.spec.output_schema, decoded, row_offset=index * size)
                except Exception as exc:  # the model broke its output contract: that is the model's failure
                    raise ModelResponseError(
                        self.spec.name, self.transport.kind, f"output violates its schema: {exc}"
                    ) from exc
                pieces.append(decoded)
        finally:
            answers.close()  # a failed batch: send no more, and wait for those under way
        return pa.concat_tables(pieces)

    def _infer_all(self, chunks: list[pa.Table]) -> Generator[Mapping[str, npt.NDArray[np.generic]], None, None]:
        """Each chunk's model outputs, in order, with up to `spec.in_flight` calls under way at once."""
        window = min(self.spec.in_flight, len(chunks))
        if window <= 1:
            for chunk in chunks:
                yield self.transport.infer(self.encode(chunk))
            return

        def call(chunk: pa.Table) -> Mapping[str, npt.NDArray[np.generic]]:
            return self.transport.infer(self.encode(chunk))

        pool = ThreadPoolExecutor(window, thread_name_prefix=f"predict-{self.spec.name}")
        pending: deque[Future[Mapping[str, npt.NDArray[np.generic]]]] = deque()
        try:
            waiting = iter(chunks)
            for chunk in waiting:
                pending.append(pool.submit(call, chunk))
                if len(pending) == window:
                    break
            while pending:
                outputs = pending.popleft().result()  # the earliest batch's error, if it failed
                failed = any(future.done() and future.exception() is not None for future in pending)
                nxt = None if failed else next(waiting, None)  # a later batch failed already: send no more
                if nxt is not None:
                    pending.append(pool.submit(call, nxt))
                yield outputs
        finally:
            # On an error (or a caller that stops early) nothing more is sent; calls under way end before we return.
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def empty_result(self) -> pa.Table:
        """The answer to no rows, made without calling the model: the output schema's columns, no rows.

        Column types follow the output row's fields: float64 for float, int64 for int, bool, and string for str and
        `Literal` words (what `decode` gives for a scored batch). Override it for other types.
        """
        types = {"number": pa.float64(), "integer": pa.int64(), "bool": pa.bool_(), "string": pa.string()}
        return pa.schema(
            [(rule.name, types.get(rule.kind, pa.string())) for rule in column_rules(self.spec.output_schema)]
        ).empty_table()

    def close(self) -> None:
        """Close the transport."""
        self.transport.close()

    def __repr__(self) -> str:
        s = self.spec
        return f"{type(self).__name__}({s.name!r}, version={s.version!r}, transport={self.transport.kind!r})"
