"""`shipbrain yard`: generate a synthetic yard or import a yard's own, inspect the store, query its graph.

Every command reads an imported store (`knowledge.store.YardStore`, format 4): the synthetic yard is generated,
written in the open yard format and imported like any other yard. Commands import what they need when they run
(settings, the store, pyarrow), so `shipbrain yard info` reads a manifest without paying for the rest.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from knowledge.errors import ShipbrainError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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


YardDir = Annotated[Path, typer.Argument(help="A yard store (made by `shipbrain yard generate` or `yard import`).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of tables.")]


@yard_app.command()
def generate(
    parts: Annotated[
        int, typer.Option(help="Physical parts: hull parts (90 %) plus outfitting items (10 %).")
    ] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same yard, byte for byte.")] = 0,
    blocks: Annotated[
        int | None, typer.Option(help="Number of blocks (default: about 214 at 25M parts, fewer for smaller yards).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Store directory to write (default: DATA_DIR/yards/yard-PARTS-sSEED).")
    ] = None,
    open_format: Annotated[
        Path | None,
        typer.Option("--open-format", help="Also keep the yard in the open yard format (what was imported) here."),
    ] = None,
    format_only: Annotated[
        bool, typer.Option("--format-only", help="Write only the open yard format (needs --open-format), no store.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the directories if they exist.")] = False,
) -> None:
    """Generate a synthetic yard (5,000 to 25,000,000 parts) and import it into a store, as any yard is imported.

    The yard is written in the open yard format and imported from it (`--open-format` keeps that folder). A failed or
    killed run leaves nothing at the target.
    """
    with user_errors():
        from knowledge.errors import InputError
        from knowledge.settings import get_settings
        from knowledge.synthetic import YardSpec

        spec = YardSpec.checked(parts=parts, seed=seed, blocks=blocks)
        if format_only and (open_format is None or out_dir is not None):
            raise InputError("--format-only writes the open yard format alone: give --open-format DIR and no --out")
        suffix = "" if blocks is None else f"-b{blocks}"
        target = None if format_only else out_dir or get_settings().yards_dir / f"yard-{parts}-s{seed}{suffix}"
        _generate(spec, target, force, open_format=open_format)
        if target is None:
            out.print(f"wrote the open yard format to {open_format}; import it with `shipbrain yard import`")
        else:
            if open_format is not None:
                out.print(f"the open yard format it was imported from: {open_format}", highlight=False)
            _print_store(target, as_json=False)


def _generate(spec: YardSpec, target: Path | None, force: bool, *, open_format: Path | None = None) -> None:
    """`generate_store` with a progress bar over its steps (plain lines when stderr is no terminal)."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from knowledge.settings import get_settings
    from knowledge.synthetic.pipeline import generate_store, pipeline_steps

    steps = pipeline_steps(store=target is not None)
    bars = err.is_terminal or get_settings().progress
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    counter = (TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    label = f"{spec.parts:,} parts"
    with Progress(*columns, *counter, console=err, transient=False, disable=not bars) as progress:
        task = progress.add_task(f"generating {label}", total=len(steps))
        started = 0

        def advance(name: str) -> None:
            nonlocal started  # each call starts the next step: counted, so a renamed step cannot break the bar
            started += 1
            progress.update(task, completed=min(started - 1, len(steps)), description=f"{label}: {name}")
            if not bars:  # logs and pipes get one plain line per step instead of a bar
                err.print(f"[{started}/{len(steps)}] {label}: {name}", highlight=False)

        written = generate_store(spec, target, open_format=open_format, overwrite=force, progress=advance)
        progress.update(task, completed=len(steps), description=f"{label}: written to {written}")


@yard_app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A yard in the open yard format: yard.toml, nodes, edges, ...")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Store directory to write (default: DATA_DIR/yards/<source name>).")
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
    """Summarise a yard store: its kinds and roles, counts, edges and size (checks every file's presence and size)."""
    with user_errors():
        _print_store(path, as_json=as_json)


def _print_store(path: Path, *, as_json: bool) -> None:
    """The store's manifest as a table or JSON: the manifest and the files' sizes alone (no numpy, no pyarrow)."""
    from knowledge.yarddir import check_store_files, read_import_manifest

    m = read_import_manifest(path)
    check_store_files(path, m)
    disk = sum(int(f["bytes"]) for f in m.files.values())
    if as_json:
        summary = {"path": str(path), **m.model_dump(exclude={"files"}), "disk_bytes": disk}
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    table = Table(title=f"yard {str(path)!r}: {m.name} (day 0 {m.day0})", title_justify="left")
    table.add_column("kind")
    table.add_column("role")
    table.add_column("count", justify="right")
    role_of = {kind: role for role, kinds in m.roles.items() for kind in kinds}
    for kind, n in m.counts.items():
        table.add_row(kind, role_of.get(kind, "-"), f"{n:,}")
    table.add_row("graph nodes", "", f"{m.num_nodes:,}")
    table.add_row("precedence edges", "", f"{m.num_edges:,}")
    table.add_row("on disk", "", f"{disk / 2**20:,.1f} MiB")
    out.print(table)


@yard_app.command()
def verify(path: YardDir) -> None:
    """Check every file's SHA-256, the arrays' shapes, and that the graph has no cycle."""
    with user_errors():
        from knowledge.yarddir import verify_store

        manifest = verify_store(path)
        store = _open_store(path)
        store.topological_levels()  # a GraphCycleError names the nodes on a cycle
        out.print(f"ok: {store.num_nodes:,} nodes, {store.num_edges:,} edges, {len(manifest.files)} files verified")


@yard_app.command()
def query(
    path: YardDir,
    op: Annotated[
        QueryOp,
        typer.Argument(
            help="upstream | downstream | path (needs --to) | members (inside it, or what it groups) | critical"
        ),
    ],
    code: Annotated[str, typer.Argument(help="One of the yard's ids, exactly (a near miss names ids close to it).")],
    to: Annotated[str | None, typer.Option(help="For `path`: the id the chain ends at.")] = None,
    depth: Annotated[int | None, typer.Option(min=0, help="Follow at most this many edges.")] = None,
    kinds: Annotated[
        str | None,
        typer.Option(help="Comma-separated kinds (the yard's) or roles (part, joint, ...) to keep (default: all)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=0, help="Ids to list (counts always cover everything).")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Ask the part-dependency graph what comes before, after, between or inside an id.

    `critical` is the longest chain of work into the id, each joint and outfitting item taking its norm hours.
    """
    with user_errors():
        store = _open_store(path)
        node = store.node_of(code)
        # the store checks each kind and names a wrong one ("no kind or role 'weld' in this yard; kinds: ...")
        kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
        ids, by_kind, hours = _run_query(store, op, node, to, depth, kind_list)
        _print_query(store, op, code, ids, by_kind, limit, as_json, hours, to)


def _open_store(path: Path) -> YardStore:
    """`YardStore.open`, after the manifest's own check (which names a yard of an earlier format and what to do)."""
    from knowledge.store import YardStore
    from knowledge.yarddir import read_import_manifest

    read_import_manifest(path)
    return YardStore.open(path)


def _run_query(
    store: YardStore, op: QueryOp, node: int, to: str | None, depth: int | None, kinds: list[str] | None
) -> tuple[npt.NDArray[np.int32], dict[str, int], list[float] | None]:
    """The nodes a query finds, in order, their count by kind, and for `critical` each one's finish hour.

    A whole closure is counted off its ranges (`upstream_ranges`, `downstream_ranges`): no kind is looked up per node.
    """
    import numpy as np

    from knowledge.errors import InputError

    if op in (QueryOp.upstream, QueryOp.downstream) and depth is None:
        ranges = store.upstream_ranges if op is QueryOp.upstream else store.downstream_ranges
        closure = ranges([node], kinds=kinds)
        return closure.ids(), dict(closure.counts), None
    hours = None
    if op is QueryOp.upstream:
        ids = store.upstream([node], depth=depth, kinds=kinds)
    elif op is QueryOp.downstream:
        ids = store.downstream([node], depth=depth, kinds=kinds)
    elif op is QueryOp.members:  # inside it by the production hierarchy, and what it groups (a system's items)
        ids = np.union1d(store.members(node, kinds=kinds), store.group_members(node, kinds=kinds)).astype(np.int32)
    elif op is QueryOp.path:
        if to is None:
            raise InputError("`path` needs --to CODE: the id the chain should end at")
        ids = store.shortest_path(node, store.node_of(to))
    else:
        cp = store.critical_path(_norm_hours(store), end=node)
        ids, hours = cp.node_ids, [float(cp.finish[i]) for i in cp.node_ids]
    return ids, dict(Counter(store.kinds_of(ids))), hours


def _norm_hours(store: YardStore) -> npt.NDArray[np.float64]:
    """Per node, the yard's planning-norm hours: the `norm_hours` of its joints and outfitting items, 0 elsewhere.

    A value the yard leaves empty counts 0 hours.

    Raises:
        MissingFieldError: the yard has joints or items but does not give their `norm_hours` (or has neither).
    """
    import numpy as np

    purpose = "the critical path by norm hours"
    roles = [role for role in ("joint", "outfitting_item") if store.count(role)]
    for role in roles or ["joint"]:
        store.require(role, ["norm_hours"], purpose)
    hours = np.zeros(store.num_nodes)
    for role in roles:
        nodes = store.nodes_of_role(role)
        hours[nodes] = np.nan_to_num(store.field_of(role, "norm_hours", nodes).astype(np.float64), nan=0.0)
    return hours


def _print_query(
    store: YardStore,
    op: QueryOp,
    code: str,
    ids: npt.NDArray[np.int32],
    by_kind: dict[str, int],
    limit: int,
    as_json: bool,
    hours: list[float] | None,
    to: str | None,
) -> None:
    shown = ids[:limit] if op not in (QueryOp.path, QueryOp.critical) else ids
    codes = store.codes_of(shown)
    kinds: list[str] = store.kinds_of(shown)
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
    table = Table(title=escape(title), title_justify="left")
    table.add_column("id")
    table.add_column("kind")
    if hours is not None:
        table.add_column("finish (h)", justify="right")
    for i, (c, k) in enumerate(zip(codes, kinds, strict=True)):
        row = [escape(c), escape(k.replace("_", " "))] + ([f"{hours[i]:,.1f}"] if hours is not None else [])
        table.add_row(*row)
    out.print(table)
    if by_kind and op not in (QueryOp.path, QueryOp.critical):
        listed = ", ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in sorted(by_kind.items()))
        out.print(f"by kind: {listed}", highlight=False, markup=False)
    if result["truncated"]:
        out.print(f"(showing {len(shown):,} of {len(ids):,}; --limit N shows more, --json for machines)")


def _demo_is_stale(target: Path) -> str | None:
    """Why the demo yard at `target` must be made again (not a store this Shipbrain reads), None if it is fine."""
    manifest = target / "manifest.json"
    if not manifest.exists():
        return None
    try:
        found = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return "its manifest is unreadable"
    from knowledge.yarddir import STORE_FORMAT_VERSION

    if (
        not isinstance(found, dict)
        or found.get("source") != "import"
        or found.get("format_version") != STORE_FORMAT_VERSION
    ):
        version = found.get("format_version") if isinstance(found, dict) else None
        return f"it is a yard of format {version}, not an imported store of this Shipbrain's"
    return None


def ensure_demo_yard() -> None:
    """Generate the demo yard on first use (it is reproducible: a stale one is made again), then print its summary."""
    with user_errors():
        from knowledge.settings import get_settings
        from knowledge.synthetic import YardSpec

        settings = get_settings()
        target = settings.demo_yard_dir
        stale = _demo_is_stale(target)
        if stale is not None:
            err.print(f"the demo yard in {target} must be made again ({stale})")
        if not (target / "manifest.json").exists() or stale is not None:
            err.print(f"first start: generating the demo yard ({settings.demo_parts:,} parts) in {target}")
            _generate(YardSpec.checked(parts=settings.demo_parts, seed=settings.demo_seed), target, force=True)
        _print_store(target, as_json=False)
        from knowledge.documents import DEMO_CORPUS, DocumentStore

        with DocumentStore(settings) as store:
            if store.count() == 0:
                counts = store.ingest([DEMO_CORPUS])
                err.print(f"first start: indexed {len(counts)} demo documents in {settings.data_dir / 'qdrant'}")
            sections = store.count()
        out.print(f"documents: {sections} sections indexed")
        yard = _open_store(target)
        blocks = yard.nodes_of_role("block")
        example = yard.code_of(int(blocks[min(2, len(blocks) - 1)])) if len(blocks) else yard.code_of(0)
        out.print(f"\nNext: shipbrain yard query {target} upstream {example} --kinds block", highlight=False)
        out.print('      shipbrain docs search "NDT for overhead butt welds"')


docs_app = typer.Typer(
    help="The document store: welding procedures, NDT rules, outfitting rules and lessons learned, with citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@docs_app.command("ingest")
def docs_ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (Markdown, text, PDF) (default: the demo corpus).")
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
