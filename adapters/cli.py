"""`shipbrain models`: list, describe, run and train the yard's models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from knowledge.cli import user_errors

if TYPE_CHECKING:
    import numpy.typing as npt
    import pyarrow as pa

    from adapters.registry import Registry
    from adapters.spec import AdapterSpec
    from knowledge.store import YardStore

__all__ = ["models_app"]

models_app = typer.Typer(
    help="The yard's models as tools: list them, describe their contracts, run them on a yard, train them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]
VersionOption = Annotated[
    str | None, typer.Option("--version", help="A version from `shipbrain models list` [default: the model's default].")
]


def _registry(name: str | None = None, version: str | None = None) -> Registry:
    from adapters.registry import Registry

    registry = Registry.load(versions={name: version} if name is not None and version is not None else None)
    for problem in registry.problems:
        err.print(f"[yellow]warning:[/] {problem}", highlight=False)
    return registry


def _served_spec(registry: Registry, name: str) -> AdapterSpec:
    """A model's spec after asking its v2 server (once, a short timeout) for its version and batch limit.

    A server that cannot be asked is a warning on stderr, and the spec shows what config alone says.
    """
    from adapters.transports.v2 import V2Transport

    built = registry.get(name)
    transport = getattr(built, "transport", None)
    if not isinstance(transport, V2Transport):
        return registry.spec(name)
    served = transport.served()
    if served.problem is not None:
        err.print(f"[yellow]warning:[/] model {name!r}: cannot ask its server: {served.problem}", highlight=False)
    return built.spec


@models_app.command("list")
def list_models(as_json: JsonFlag = False) -> None:
    """Every registered model: name, system, default version, every version, transport, batch, owner.

    A v2 model's version is the server's (the pinned one, else the latest it lists) and its batch is capped at the
    server's published `max_batch_size` ("1,024 (server max)").
    """
    with user_errors():
        registry = _registry()
        rows = []
        for name in registry.names():
            spec = _served_spec(registry, name)
            keys = ("name", "system", "version", "transport", "batch_size", "server_max_batch", "owner")
            row = {k: getattr(spec, k) for k in keys}
            rows.append({**row, "versions": list(registry.versions(name))})
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        table = Table(title="models", title_justify="left")
        for column in ("name", "system", "version", "transport", "batch", "owner", "versions"):
            table.add_column(column, justify="right" if column == "batch" else "left")
        for row in rows:
            table.add_row(
                *(str(row[k]) for k in ("name", "system", "version", "transport")),
                _batch_text(row["batch_size"], row["server_max_batch"]),
                str(row["owner"]),
                ", ".join(row["versions"]),
            )
        out.print(table)


def _batch_text(batch_size: int, server_max: int | None) -> str:
    """Rows per call, and where a server's limit set it: "1,024 (server max)", "512 (server max 1,024)"."""
    if server_max is None:
        return f"{batch_size:,}"
    if batch_size == server_max:
        return f"{batch_size:,} (server max)"
    return f"{batch_size:,} (server max {server_max:,})"


@models_app.command()
def describe(
    name: Annotated[str, typer.Argument(help="A model name from `shipbrain models list`.")],
    version: VersionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A model's contract: what it is for, its input and output row schemas, and its model card."""
    with user_errors():
        from adapters.cards import load_card

        registry = _registry(name, version)
        spec = _served_spec(registry, name)
        info = spec.describe()
        info["versions"] = list(registry.versions(name))
        config = registry.configs.get(name)
        card = load_card(config.resolved_path()) if config is not None and config.transport == "onnx" else None
        info["card"] = card.model_dump() if card else None
        if as_json:
            sys.stdout.write(json.dumps(info, indent=2, default=str) + "\n")
            return
        out.print(
            f"[bold]{spec.name}[/] {spec.version} ({spec.system}, owner: {spec.owner}, transport: {spec.transport}, "
            f"batch: {_batch_text(spec.batch_size, spec.server_max_batch)})"
        )
        out.print(spec.description)
        for label, schema in (("input row", spec.input_schema), ("output row", spec.output_schema)):
            table = Table(title=label, title_justify="left")
            table.add_column("field")
            table.add_column("type")
            table.add_column("meaning")
            props = schema.model_json_schema()["properties"]
            for field, field_info in schema.model_fields.items():
                prop = props[field]
                kind = prop.get("enum") or prop.get("type", "")
                limits = ", ".join(f"{k} {prop[k]}" for k in ("exclusiveMinimum", "minimum", "maximum") if k in prop)
                table.add_row(field, f"{kind}{' (' + limits + ')' if limits else ''}", field_info.description or "")
            out.print(table)
        if card:
            out.print("held-out metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in card.metrics.items()))


@models_app.command()
def predict(
    name: Annotated[str, typer.Argument(help="A model name from `shipbrain models list`.")],
    yard: Annotated[Path, typer.Option(help="The imported yard store whose rows to score.")],
    where: Annotated[
        list[str] | None, typer.Option(help="Filter rows: block=ID, a block's id in the yard (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Rows to print.")] = 20,
    output: Annotated[Path | None, typer.Option("--out", help="Write every prediction to this Parquet file.")] = None,
    version: VersionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a model over a yard's rows (all, or those of some blocks) and print the predictions."""
    with user_errors():
        import numpy as np
        import pyarrow as pa

        from adapters.errors import AdapterInputError
        from knowledge.store import YardStore
        from knowledge.words import with_article

        registry = _registry(name, version)
        adapter = registry.get(name)
        store = YardStore.open(yard)
        blocks: list[int] | None = None
        for clause in where or []:
            key, _, value = clause.partition("=")
            if key.strip() != "block" or not value:
                raise AdapterInputError(f"--where {clause!r}: use block=CODE (a block's id in the yard)")
            node = store.node_of(value.strip())
            if store.role_of(node) != "block":
                raise AdapterInputError(
                    f"--where {clause!r}: {value.strip()!r} is {with_article(store.kind_of(node))}, not a block"
                )
            blocks = [*(blocks or []), node]
        rows_of = getattr(adapter, "yard_rows", None)
        if rows_of is None or adapter.spec.key_column is None:
            raise AdapterInputError(f"model {name!r} does not score yard rows; call it through its Python API")
        rows = rows_of(store)
        if blocks is not None:
            if "block" in rows.column_names:  # a row's block (an on-board item's too), not only its subtree
                rows = rows.filter(pa.array(np.isin(rows.column("block").to_numpy(), blocks)))
            else:
                rows = rows_of(store, blocks)
        result = _run_with_progress(registry, name, rows)
        keys = rows.column(adapter.spec.key_column).to_numpy()
        codes = rows.column("code").to_pylist() if "code" in rows.column_names else None
        _print_predictions(store, adapter.spec, keys, result, limit, as_json, output, codes)


def _run_with_progress(registry: Registry, name: str, rows: pa.Table) -> pa.Table:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from adapters.executor import BatchExecutor

    executor = BatchExecutor(registry)
    backend = executor.choose(rows.num_rows)
    with Progress(
        TextColumn(f"{name} ({backend})"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("rows", total=rows.num_rows)
        result = executor.run(name, rows, progress=lambda done, _total: progress.update(task, completed=done))
    executor.close() if backend == "ray" else None
    return result


def _print_predictions(
    g: YardStore,
    spec: AdapterSpec,
    keys: npt.NDArray[Any],
    result: pa.Table,
    limit: int,
    as_json: bool,
    output: Path | None,
    codes: list[str] | None = None,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if output is not None:  # each row with the yard's id beside its node: the file is read without the store
        every = codes if codes is not None else g.codes_of(keys)
        keyed = result.add_column(0, spec.key_column, pa.array(keys)).add_column(
            1, "code", pa.array(every, pa.string())
        )
        pq.write_table(keyed, output)
    shown = result.slice(0, limit).to_pylist()
    codes = codes[:limit] if codes is not None else g.codes_of(keys[:limit])
    summary = {"model": spec.name, "version": spec.version, "rows": result.num_rows}
    for column in result.column_names:
        if pa.types.is_floating(result.schema.field(column).type):
            values = result.column(column).to_numpy()
            summary[f"{column}_sum"] = float(values.sum())
            summary[f"{column}_mean"] = float(values.mean()) if len(values) else 0.0
    if as_json:
        payload = {**summary, "predictions": [{"code": c, **r} for c, r in zip(codes, shown, strict=True)]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    table = Table(title=f"{spec.name} {spec.version}: {result.num_rows:,} rows", title_justify="left")
    table.add_column("code")
    for column in result.column_names:
        table.add_column(column, justify="right")
    for code, row in zip(codes, shown, strict=True):
        table.add_row(code, *(f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    out.print(table)
    out.print(", ".join(f"{k} {v:,.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))


@models_app.command()
def train(
    yard: Annotated[Path, typer.Option(help="The imported yard store whose recorded actuals to learn from.")],
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the ONNX files and cards [default: the shipped models folder]."),
    ] = None,
    version: Annotated[str, typer.Option(help="Version to stamp on the models.")] = "1",
    seed: Annotated[int, typer.Option(help="Seed of the train/held-out split and of the learners.")] = 0,
    only: Annotated[list[str] | None, typer.Option(help="Train only these models (welding, outfitting).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Override a hyper-parameter: MODEL.LEARNER.KEY=VALUE, e.g. welding.hours.n_estimators=40."),
    ] = None,
    versioned: Annotated[
        bool, typer.Option(help="Name the files NAME-VERSION.onnx (and .card.json), beside the other versions.")
    ] = False,
) -> None:
    """Rebuild the welding and outfitting models from a yard's actuals (held-out blocks give the metrics).

    A model the yard cannot train (no labels for it, or too few) is skipped with the reason when it was not asked
    for by `--only`; asked for, it is an error.
    """
    with user_errors():
        from adapters.cards import MODELS_DIR
        from adapters.training import UntrainableError, below_chance, train_outfitting, train_welding
        from knowledge.store import YardStore

        trainers = {"welding": train_welding, "outfitting": train_outfitting}
        overrides = _parse_params(param or [], tuple(trainers))
        store = YardStore.open(yard)
        target = output or MODELS_DIR
        for name in only or []:
            if name not in trainers:
                raise typer.BadParameter(f"unknown model {name!r}; trainable: {', '.join(trainers)}")
        trained = 0
        for name in only or list(trainers):
            try:
                with err.status(f"training {name}") as status:
                    card = trainers[name](
                        store,
                        target,
                        version=version,
                        seed=seed,
                        params=overrides.get(name),
                        file_stem=f"{name}-{version}" if versioned else None,
                        progress=lambda s: status.update(s),
                    )
            except UntrainableError as exc:
                if only:
                    raise
                err.print(f"[yellow]skipped:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
                continue
            trained += 1
            out.print(f"[bold]{name}[/] {card.version} -> {target / card.onnx_file}")
            out.print("  " + ", ".join(f"{k} {v:.4g}" for k, v in card.metrics.items()))
            for warning in below_chance(card):
                err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        if not trained:
            raise UntrainableError(f"no model can be trained on {store.name}: see the reasons above")


def _parse_params(clauses: list[str], models: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """`welding.hours.n_estimators=40` clauses as {model: {learner: {key: value}}} (numbers parsed)."""
    parsed: dict[str, dict[str, dict[str, Any]]] = {}
    for clause in clauses:
        dotted, sep, raw = clause.partition("=")
        path = dotted.strip().split(".")
        if not sep or len(path) != 3 or not raw.strip():
            raise typer.BadParameter(
                f"--param {clause!r}: use MODEL.LEARNER.KEY=VALUE (e.g. welding.hours.n_estimators=40)"
            )
        model, learner, key = path
        if model not in models:
            raise typer.BadParameter(f"--param {clause!r}: unknown model {model!r}; trainable: {', '.join(models)}")
        value: Any = raw.strip()
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        parsed.setdefault(model, {}).setdefault(learner, {})[key] = value
    return parsed
