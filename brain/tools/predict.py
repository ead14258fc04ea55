"""The predict tool: any registered model over the rows it scores of a code.

A block, assembly, sub-assembly or work package, a part (itself and the joints that join it), a joint or an
outfitting item.

Its columns are the model's own: the row model of a result is built from the adapter's output schema (with the
code of each row first), so the page and the answer show a plug-in model's outputs with their descriptions.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, create_model

from brain.lexicon import ROLE_NOUNS
from brain.tools._common import CODE, count, plural, require_role
from brain.tools._scope import covered
from brain.tools.base import Plot, ToolArgs, ToolResult, ToolRow, tool
from knowledge.errors import InputError

if TYPE_CHECKING:
    from brain.core import YardContext
    from brain.tools._scope import Covered

__all__ = ["PredictArgs", "Prediction", "predict"]


class PredictArgs(ToolArgs):
    """A registered model and the code whose rows it scores."""

    model: str = Field(min_length=1, max_length=80, description="a registered model's name, e.g. welding")
    code: str = CODE


class Prediction(ToolRow):
    """One scored row: its code, then the model's outputs (the model's output schema says which)."""

    code: str
    """The joint, item or part the row describes."""


@cache
def _row_model(output: type[BaseModel], columns: tuple[str, ...]) -> type[Prediction]:
    """`Prediction` with the model's output columns, as its output schema declares them (others as plain values)."""
    fields: dict[str, tuple[object, object]] = {}
    for name in columns:
        declared = output.model_fields.get(name)
        if declared is not None:
            fields[name] = (declared.annotation, declared)
        else:
            fields[name] = (float | int | str | bool | None, None)
    made: type[Prediction] = create_model(  # type: ignore[call-overload]  # field definitions built at run time
        f"{output.__name__}WithCode", __base__=Prediction, **fields
    )
    return made


def _nodes_of(ctx: YardContext, what: Covered) -> npt.NDArray[np.int64]:
    """The nodes whose rows a model scores for a code: what it holds, its joints and items, and itself."""
    covered_nodes = np.concatenate([what.joint_ids, what.item_ids])
    if what.kind == "work_package":
        row = ctx.index.work_package(what.code)
        return np.union1d(ctx.index.scope(row), covered_nodes).astype(np.int64)
    assert what.node is not None
    held = what.kind in ("block", "assembly", "sub_assembly")
    inside = ctx.yard.members(what.node) if held else np.zeros(0, dtype=np.int32)
    return np.union1d(np.union1d([what.node], inside), covered_nodes).astype(np.int64)


@tool(
    name="predict",
    args=PredictArgs,
    row=Prediction,
    description="Run any registered model (`shipbrain models list`: the reference models and plug-ins) over the "
    "rows it scores (joints, outfitting items, ...) of a block, assembly, sub-assembly, work package, part, joint or "
    "outfitting item, through the batch executor: totals and means of its outputs and the top rows.",
    plots=(Plot(kind="bar", title="{model}: {y} by code", x="code", sort="-y", x_label_angle=-45),),
)
def predict(ctx: YardContext, args: PredictArgs) -> ToolResult:
    """Any registered model over the yard rows a code covers, through the executor."""
    model, code, yard = args.model, args.code, ctx.yard
    adapter = ctx.registry.get(model)  # an unknown name lists the known ones
    spec = adapter.spec
    role = spec.role
    if role is None or spec.key_column is None:
        raise InputError(
            f"model {model!r} scores no role of the yard's nodes (no joints, items or parts); "
            "the schedule and what-if tools ask it"
        )
    scored = plural(ROLE_NOUNS.get(role, role))
    require_role(yard, role, f"model {model!r}")
    what = covered(ctx, code)
    code = what.code
    members = _nodes_of(ctx, what)
    loader = getattr(adapter, "yard_rows", None)
    rows = loader(yard, members) if callable(loader) else yard.role_table(role, nodes=members)
    if not isinstance(rows, pa.Table):
        raise InputError(f"model {model!r} gave no table of rows from the yard")
    key_type = rows.schema.field(spec.key_column).type
    rows = rows.filter(pc.is_in(rows.column(spec.key_column), value_set=pa.array(members, type=key_type)))
    if rows.num_rows == 0:
        raise InputError(
            f"{code} is {what.what} with no {scored} for model {model!r} to score; "
            "ask a model that scores what it holds (shipbrain models list)"
        )
    predicted = ctx.executor.run(model, rows)
    numeric = [f.name for f in predicted.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]
    numbers = {"rows": float(rows.num_rows)}
    for name in numeric:
        values = predicted.column(name).to_numpy().astype(np.float64)
        numbers[f"{name}_sum"], numbers[f"{name}_mean"] = float(values.sum()), float(values.mean())
    rank = next((n for n in numeric if "probab" in n or "risk" in n), numeric[0] if numeric else None)
    order = np.argsort(-predicted.column(rank).to_numpy(), kind="stable")[:10] if rank else np.arange(10)
    # the ranking column first: it is what the page plots
    columns = tuple(dict.fromkeys([*([rank] if rank else []), *predicted.column_names]))
    row_model = _row_model(spec.output_schema, columns)
    keys = rows.column(spec.key_column).to_numpy()
    shown = [int(i) for i in order.tolist() if i < rows.num_rows]
    top = [
        row_model(code=name, **{k: predicted.column(k)[i].as_py() for k in columns})
        for i, name in zip(shown, yard.codes_of(keys[shown]), strict=True)
    ]
    means = ", ".join(f"{n} {numbers[f'{n}_mean']:.3g} on average" for n in numeric[:3])
    return predict.result(
        args,
        f"{model} {spec.version} over {count(rows.num_rows, ROLE_NOUNS.get(role, role))} of {code}: {means}",
        rows=top,
        row=row_model,
        numbers=numbers,
        sources=[f"{model} model {spec.version} ({spec.owner}) over {rows.num_rows:,} rows, by the batch executor"],
    )
