"""`shipbrain yard`: generate a synthetic yard, inspect it, and query its part-dependency graph.

Commands import what they need when they run (settings, the graph, pyarrow), so `shipbrain yard info`
reads a manifest without paying for the rest.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from knowledge.errors import ShipbrainError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from knowledge.layout import NodeKind
    from knowledge.partgraph import PartGraph
    from knowledge.store import YardStore
    from knowledge.synthetic import YardSpec

__all__ = ["docs_app", "ensure_demo_yard", "user_errors", "yard_app"]

yard_app = typer.Typer(
    help="Generate a synthetic yard, inspect it, and query its part-dependency graph.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn Shipbrain's typed errors into one line on stderr and exit code 2, never a traceback.

    Every layer's CLI uses it, so a user sees one kind of error line whichever command failed.
    """
    try:
        yield
    except (ShipbrainError, FileExistsError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


class QueryOp(StrEnum):
    """What `yard query` asks of the graph."""

    upstream = "upstream"
    downstream = "downstream"
    path = "path"
    members = "members"
    critical = "critical"


YardDir = Annotated[Path, typer.Argument(help="A yard directory (made by `shipbrain yard generate`).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]


@yard_app.command()
def generate(
    parts: Annotated[
        int, typer.Option(help="Physical parts: hull parts (90 %) plus outfitting items (10 %).")
    ] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same yard, byte for byte.")] = 0,
    blocks: Annotated[
        int | None, typer.Option(help="Number of blocks [default: about 214 at 25M parts, fewer for smaller yards].")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Yard directory to write [default: DATA_DIR/yards/yard-PARTS-sSEED].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the directory if it exists.")] = False,
) -> None:
    """Generate a synthetic yard (5,000 to 25,000,000 parts) into a yard directory."""
    with user_errors():
        from knowledge.settings import get_settings
        from knowledge.synthetic import YardSpec

        spec = YardSpec.checked(parts=parts, seed=seed, blocks=blocks)
        suffix = "" if blocks is None else f"-b{blocks}"
        target = out_dir or get_settings().yards_dir / f"yard-{parts}-s{seed}{suffix}"
        _generate(spec, target, force)
        _print_summary(target, as_json=False)


def _generate(spec: YardSpec, target: Path, force: bool) -> None:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from knowledge.settings import get_settings
    from knowledge.synthetic import generate_yard
    from knowledge.synthetic.generator import GENERATE_STEPS
    from knowledge.yarddir import write_yard

    if target.exists() and not force:
        raise FileExistsError(f"{str(target)!r} already exists; pass --force to replace it")
    steps = (*GENERATE_STEPS, "writing tables", "checksums")
    bars = err.is_terminal or get_settings().progress
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    counter = (TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, *counter, console=err, transient=False, disable=not bars) as progress:
        task = progress.add_task(f"generating {spec.parts:,} parts", total=len(steps))

        def advance(name: str) -> None:
            done = steps.index(name)
            progress.update(task, completed=done, description=f"{spec.parts:,} parts: {name}")
            if not bars:  # logs and pipes get one plain line per step instead of a bar
                err.print(f"[{done + 1}/{len(steps)}] {spec.parts:,} parts: {name}", highlight=False)

        yard = generate_yard(spec, progress=advance)
        write_yard(yard, target, overwrite=force, progress=advance)
        progress.update(task, completed=len(steps), description=f"{spec.parts:,} parts: written to {target}")


@yard_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A yard in the open yard format: yard.toml, nodes, edges, ...")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Store directory to write [default: DATA_DIR/yards/<source name>].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the store if it exists.")] = False,
) -> None:
    """Import a yard's own product model (the open yard format, see `knowledge.yardformat`) into a store.

    Everything is checked before anything is written; each problem names file, row and column. A failed or killed
    import leaves nothing at the target.
    """
    with user_errors():
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from knowledge.importer import import_yard
        from knowledge.settings import get_settings

        target = out_dir or get_settings().yards_dir / source.resolve().name
        bars = err.is_terminal or get_settings().progress
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=err, disable=not bars) as bar:
            task = bar.add_task(f"importing {source}", total=None)

            def step(what: str) -> None:
                bar.update(task, description=f"{source.name}: {what}")
                if not bars:
                    err.print(f"{source.name}: {what}", highlight=False)

            manifest = import_yard(source, target, overwrite=force, progress=step)
        table = Table(title=f"imported {manifest.name!r} into {target}", title_justify="left")
        table.add_column("kind")
        table.add_column("role")
        table.add_column("nodes", justify="right")
        role_of = {kind: role for role, kinds in manifest.roles.items() for kind in kinds}
        for kind, n in manifest.counts.items():
            table.add_row(kind, role_of.get(kind, "-"), f"{n:,}")
        table.add_row("precedence edges", "", f"{manifest.num_edges:,}")
        out.print(table)
        for role, consumers in sorted(manifest.unlocked.items()):
            out.print(f"{role}: feeds {', '.join(consumers)}", highlight=False)


@yard_app.command("export")
def export(
    store: Annotated[Path, typer.Argument(help="A store made by `shipbrain yard import`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the open yard format into.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the directory if it exists.")] = False,
) -> None:
    """Write an imported store back in the open yard format (importing it again gives the same store)."""
    with user_errors():
        from knowledge.importer import export_yard

        export_yard(store, out_dir, overwrite=force)
        out.print(f"exported {store} to {out_dir}", highlight=False)


@yard_app.command()
def info(path: YardDir, as_json: JsonFlag = False) -> None:
    """Summarise a yard: its size, counts by kind, edges and tables (checks every file's presence and size)."""
    with user_errors():
        if _is_imported(path):
            _print_imported(path, as_json=as_json)
        else:
            _print_summary(path, as_json=as_json)


def _is_imported(path: Path) -> bool:
    try:
        return bool(json.loads((path / "manifest.json").read_text()).get("source") == "import")
    except (OSError, ValueError):
        return False


def _print_imported(path: Path, *, as_json: bool) -> None:
    from knowledge.importer import check_store_files, read_import_manifest

    m = read_import_manifest(path)
    check_store_files(path, m)
    if as_json:
        sys.stdout.write(m.model_dump_json(indent=2, exclude={"files"}) + "\n")
        return
    table = Table(title=f"yard {str(path)!r}: {m.name} (imported, day 0 {m.day0})", title_justify="left")
    table.add_column("kind")
    table.add_column("role")
    table.add_column("count", justify="right")
    role_of = {kind: role for role, kinds in m.roles.items() for kind in kinds}
    for kind, n in m.counts.items():
        table.add_row(kind, role_of.get(kind, "-"), f"{n:,}")
    table.add_row("graph nodes", "", f"{m.num_nodes:,}")
    table.add_row("precedence edges", "", f"{m.num_edges:,}")
    table.add_row("on disk", "", f"{sum(int(f['bytes']) for f in m.files.values()) / 2**20:,.1f} MiB")
    out.print(table)


class YardSummary(TypedDict):
    """What `shipbrain yard info --json` prints."""

    path: str
    format_version: int
    seed: int
    parts: int
    blocks: str
    counts: dict[NodeKind, int]
    num_nodes: int
    num_edges: int
    tables: dict[str, int]
    disk_bytes: int


def _summary(path: Path) -> YardSummary:
    """From the manifest alone (the layout for an older manifest): no numpy, pyarrow or graph arrays."""
    from knowledge.yarddir import load_layout, read_manifest, verify_files

    m = read_manifest(path)
    verify_files(path, m, checksums=False)
    if "block" in m.code_ranges:
        first, last = m.code_ranges["block"]
    else:  # a manifest written before it named its code ranges
        layout = load_layout(path)
        first, last = layout.block_code(0), layout.block_code(m.counts["block"] - 1)
    return {
        "path": str(path),
        "format_version": m.format_version,
        "seed": m.seed,
        "parts": m.parts,
        "blocks": f"{first}-{last}",
        "counts": dict(m.counts),
        "num_nodes": m.num_nodes,
        "num_edges": m.num_edges,
        "tables": m.tables,
        "disk_bytes": sum(f.bytes for f in m.files.values()),
    }


def _print_summary(path: Path, *, as_json: bool) -> None:
    s = _summary(path)
    if as_json:
        sys.stdout.write(json.dumps(s, indent=2) + "\n")
        return
    table = Table(title=f"yard {s['path']}  (seed {s['seed']}, blocks {s['blocks']})", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, n in s["counts"].items():
        table.add_row(kind.replace("_", " "), f"{n:,}")
    table.add_row("graph nodes", f"{s['num_nodes']:,}")
    table.add_row("precedence edges", f"{s['num_edges']:,}")
    table.add_row("work packages", f"{s['tables']['work_packages']:,}")
    table.add_row("on disk", f"{s['disk_bytes'] / 2**20:,.1f} MiB")
    out.print(table)


@yard_app.command()
def verify(path: YardDir) -> None:
    """Check every file's SHA-256, every edge, and that the graph has no cycle."""
    with user_errors():
        from knowledge.partgraph import PartGraph

        g = PartGraph.open(path, verify="full")
        out.print(f"ok: {g.num_nodes:,} nodes, {g.num_edges:,} edges, {len(g.manifest.files)} files verified")


@yard_app.command()
def query(
    path: YardDir,
    op: Annotated[QueryOp, typer.Argument(help="upstream | downstream | path (needs --to) | members | critical")],
    code: Annotated[str, typer.Argument(help="A code: B214, B214-A07, B214-A07-S03-P0042, J214-000042, O214-00042.")],
    to: Annotated[str | None, typer.Option(help="For `path`: the code the chain ends at.")] = None,
    depth: Annotated[int | None, typer.Option(min=0, help="Follow at most this many edges.")] = None,
    kinds: Annotated[
        str | None, typer.Option(help="Comma-separated kinds to keep, e.g. part,joint (all if not given).")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Codes to list (counts always cover everything).")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Ask the part-dependency graph what comes before, after, between or inside a code."""
    with user_errors():
        if _is_imported(path):
            _query_imported(path, op, code, to, depth, kinds, limit, as_json)
            return
        from knowledge.partgraph import PartGraph

        g = PartGraph.open(path)
        # PartGraph checks each kind and names a wrong one ("unknown node kind 'weld'; kinds: ...")
        kind_list = cast("list[NodeKind]", [k.strip() for k in kinds.split(",") if k.strip()]) if kinds else None
        ids, hours = _run_query(g, op, g.id_of(code), to, depth, kind_list)
        _print_query(g, op, code, ids, limit, as_json, hours, to)


def _query_imported(
    path: Path,
    op: QueryOp,
    code: str,
    to: str | None,
    depth: int | None,
    kinds: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """`yard query` on an imported store: the yard's own ids and kinds (or roles) in and out."""
    from knowledge.errors import InputError
    from knowledge.store import YardStore

    store = YardStore.open(path)
    node = store.node_of(code)
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    if op is QueryOp.upstream:
        ids = store.upstream([node], depth=depth, kinds=kind_list)
    elif op is QueryOp.downstream:
        ids = store.downstream([node], depth=depth, kinds=kind_list)
    elif op is QueryOp.members:
        ids = store.members(node, kinds=kind_list)
    elif op is QueryOp.path:
        if to is None:
            raise InputError("`path` needs --to ID: the id the chain should end at")
        ids = store.shortest_path(node, store.node_of(to))
    else:
        raise InputError(
            "`critical` needs hours from the yard's models, which do not run on an imported yard yet (issue 12); "
            "upstream, downstream, members and path do"
        )
    _print_query(store, op, code, ids, limit, as_json, None, to)


def _run_query(
    g: PartGraph, op: QueryOp, node: int, to: str | None, depth: int | None, kinds: list[NodeKind] | None
) -> tuple[npt.NDArray[np.int32], list[float] | None]:
    """The ids a query finds, in order, and for `critical` each one's finish hour."""
    from knowledge.errors import InputError

    if op is QueryOp.upstream:
        return g.upstream([node], depth=depth, kinds=kinds), None
    if op is QueryOp.downstream:
        return g.downstream([node], depth=depth, kinds=kinds), None
    if op is QueryOp.members:
        return g.members(node, kinds=kinds), None
    if op is QueryOp.path:
        if to is None:
            raise InputError("`path` needs --to CODE: the code the chain should end at")
        return g.shortest_path(node, g.id_of(to)), None
    cp = g.critical_path(_planning_hours(g), end=node)
    return cp.node_ids, [float(cp.finish[i]) for i in cp.node_ids]


def _planning_hours(g: PartGraph) -> npt.NDArray[np.float64]:
    """Per node, the yard's planning-norm hours (joints and outfitting items; 0 for other kinds)."""
    import numpy as np

    from knowledge.layout import NODE_KINDS

    hours = np.zeros(g.num_nodes)
    starts = g.layout.kind_start
    for kind, table in (("joint", "joints"), ("outfitting_item", "outfitting_items")):
        k = NODE_KINDS.index(kind)
        hours[starts[k] : starts[k + 1]] = g.table(table, ["norm_hours"]).column(0).to_numpy()
    return hours


def _print_query(
    g: PartGraph | YardStore,
    op: QueryOp,
    code: str,
    ids: npt.NDArray[np.int32],
    limit: int,
    as_json: bool,
    hours: list[float] | None,
    to: str | None,
) -> None:
    shown = ids[:limit] if op not in (QueryOp.path, QueryOp.critical) else ids
    codes = g.codes_of(shown)
    kinds: list[str] = list(g.kinds_of(shown))
    by_kind = dict(Counter(g.kinds_of(ids))) if len(ids) <= 5_000_000 else None
    result: dict[str, object] = {
        "op": op.value,
        "code": code,
        "to": to,
        "count": int(len(ids)),
        "by_kind": by_kind,
        "codes": codes,
        "truncated": len(shown) < len(ids),
    }
    if hours is not None:
        result["finish_hours"] = hours
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    title = {
        QueryOp.upstream: f"{len(ids):,} nodes must be done before {code}",
        QueryOp.downstream: f"{len(ids):,} nodes wait on {code}",
        QueryOp.path: f"chain of {len(ids)} from {code} to {to}" if len(ids) else f"{to} does not wait on {code}",
        QueryOp.members: f"{len(ids):,} members of {code}",
        QueryOp.critical: f"critical chain of {len(ids)} into {code} (planning-norm hours)",
    }[op]
    table = Table(title=title, title_justify="left")
    table.add_column("code")
    table.add_column("kind")
    if hours is not None:
        table.add_column("finish (h)", justify="right")
    for i, (c, k) in enumerate(zip(codes, kinds, strict=True)):
        row = [c, k.replace("_", " ")] + ([f"{hours[i]:,.1f}"] if hours is not None else [])
        table.add_row(*row)
    out.print(table)
    if by_kind and op not in (QueryOp.path, QueryOp.critical):
        out.print("by kind: " + ", ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in sorted(by_kind.items())))
    if result["truncated"]:
        out.print(f"(showing {len(shown):,} of {len(ids):,}; --limit N shows more, --json for machines)")


def _demo_format(target: Path) -> object | None:
    """The format version of a demo yard written by another Shipbrain (it is reproducible: regenerate it), else None."""
    import json

    from knowledge.yarddir import FORMAT_VERSION

    manifest = target / "manifest.json"
    if not manifest.exists():
        return None
    try:
        found = json.loads(manifest.read_text()).get("format_version")
    except (OSError, ValueError, AttributeError):
        return "unreadable"
    return None if found == FORMAT_VERSION else found


def ensure_demo_yard() -> None:
    """Generate the demo yard on first use, then print its summary."""
    with user_errors():
        from knowledge.settings import get_settings
        from knowledge.synthetic import YardSpec

        settings = get_settings()
        target = settings.demo_yard_dir
        stale = _demo_format(target)
        if stale is not None:
            err.print(f"the demo yard in {target} is of yard format {stale}, not this Shipbrain's: regenerating")
        if not (target / "manifest.json").exists() or stale is not None:
            err.print(f"first start: generating the demo yard ({settings.demo_parts:,} parts) in {target}")
            _generate(YardSpec.checked(parts=settings.demo_parts, seed=settings.demo_seed), target, force=True)
        _print_summary(target, as_json=False)
        from knowledge.documents import DEMO_CORPUS, DocumentStore

        with DocumentStore(settings) as store:
            if store.count() == 0:
                counts = store.ingest([DEMO_CORPUS])
                err.print(f"first start: indexed {len(counts)} demo documents in {settings.data_dir / 'qdrant'}")
            sections = store.count()
        out.print(f"documents: {sections} sections indexed")
        out.print(f"\nNext: shipbrain yard query {target} upstream B003 --kinds block")
        out.print('      shipbrain docs search "NDT for overhead butt welds"')


docs_app = typer.Typer(
    help="The document store: welding procedures, NDT rules, outfitting rules and lessons learned, with citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@docs_app.command("ingest")
def docs_ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (Markdown, text, PDF) [default: the demo corpus].")
    ] = None,
) -> None:
    """Index documents; a document ingested again replaces its earlier sections."""
    with user_errors():
        from knowledge.documents import DEMO_CORPUS, DocumentStore

        with err.status("loading the embedder"), DocumentStore() as store:
            counts = store.ingest(paths or [DEMO_CORPUS])
            total = store.count()
        out.print(f"indexed {len(counts)} documents, {sum(counts.values())} sections; the store holds {total} sections")


@docs_app.command("search")
def docs_search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: wps, ndt_rule, outfitting_rule, lesson, ...")
    ] = None,
    system: Annotated[str | None, typer.Option(help="Only documents of this system.")] = None,
    block: Annotated[str | None, typer.Option(help="Only documents about this block, e.g. B012.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Sections to return.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Find the sections that answer a question, each with its citation."""
    with user_errors():
        from knowledge.documents import DocumentStore

        with DocumentStore() as store:
            hits = store.search(query, limit=limit, kind=kind, system=system, block=block)
        if as_json:
            payload = [{**h.model_dump(), "citation": h.citation, "fact": h.fact, "answers": h.answers} for h in hits]
            sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            return
        if not hits:
            out.print("no matching section (is the store empty? run `shipbrain docs ingest`)")
        elif not hits[0].answers:
            out.print("no section answers that clearly; the closest ones:")
        for hit in hits:
            out.print(
                f"[bold]{hit.citation}[/]  ({hit.kind}, matches {hit.coverage:.0%} of the question)", highlight=False
            )
            fact = hit.fact
            out.print(f"  {fact[:400]}{'...' if len(fact) > 400 else ''}", highlight=False)
