"""The yard directory on disk: the imported store's manifest (read without numpy or pyarrow), and format 3.

An imported store (`knowledge.importer`, format 4) is described by its `manifest.json`: what it holds and every
file's size and SHA-256. `read_import_manifest` and `check_store_files` read and check it with pydantic alone, so
`shipbrain yard info` pays for neither numpy nor pyarrow; `verify_store` checks every checksum.
`replace_directory` puts any directory written whole in place (stores, the open yard format).

**Format 3** (going away, issue 12; nothing new writes it): the synthetic generator's own directory.

```
<yard>/
  manifest.json              format, version, seed, counts, and every file's size and SHA-256
  blocks.parquet ... systems.parquet     attributes as columns (see TABLES)
  layout/*.npy               offset arrays that map codes to ids (`knowledge.layout.YardLayout`)
  graph/forward_*.npy        CSR of edges u -> v ("u before v") grouped by u
  graph/reverse_*.npy        the same edges grouped by v
```

A write goes to a temporary sibling directory that is renamed into place only when every file is
written and checksummed, so an interrupted write leaves no half-written yard behind. Files are
written deterministically (no timestamps), so the same spec gives the same bytes.

Reading the manifest and the layout needs no pyarrow: pyarrow is imported inside the functions that read or write
tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.errors import InputError, ManifestError, YardIntegrityError, YardNotFoundError
from knowledge.kinds import NODE_KINDS, NodeKind

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

    from knowledge.layout import YardLayout

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "GRAPH_FILES",
    "LAYOUT_FILES",
    "STORE_FORMAT_VERSION",
    "TABLES",
    "FileEntry",
    "ImportManifest",
    "Manifest",
    "YardData",
    "check_store_files",
    "read_import_manifest",
    "read_manifest",
    "replace_directory",
    "verify_files",
    "verify_store",
    "write_yard",
]

FORMAT = "shipbrain-yard"
FORMAT_VERSION = 3
"""3: the `trades` and `ground_truth` tables (generator 4); a yard of another version is refused with a hint."""
"""2: joints gained `fit_up_gap_mm` (generator 2)."""
TABLES = (
    "blocks",
    "assemblies",
    "sub_assemblies",
    "parts",
    "joints",
    "outfitting_items",
    "work_packages",
    "resources",
    "systems",
    "trades",
    "ground_truth",
)
LAYOUT_FILES = ("block_assembly_start", "assembly_sub_start", "sub_part_start", "block_joint_start", "block_item_start")
GRAPH_FILES = ("forward_indptr", "forward_indices", "reverse_indptr", "reverse_indices")
_ROW_GROUP = 1 << 20


class FileEntry(BaseModel):
    """Size and checksum of one file of the yard."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bytes: int
    sha256: str


class Manifest(BaseModel):
    """What a yard directory holds; written last, read first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["shipbrain-yard"]
    format_version: int
    generator_version: str
    seed: int
    parts: int
    """Physical parts requested (hull parts plus outfitting items)."""
    blocks: int | None = None
    """Blocks requested, if the spec set them (None: the generator's default for the size)."""
    counts: dict[NodeKind, int]
    """Nodes of each kind in the part-dependency graph."""
    num_nodes: int
    num_edges: int
    tables: dict[str, int]
    """Rows of each Parquet table."""
    files: dict[str, FileEntry]
    code_ranges: dict[NodeKind, tuple[str, str]] = Field(default_factory=dict)
    """The first and last code of each kind present, for summaries that read the manifest alone."""


class _SpecData(Protocol):
    @property
    def seed(self) -> int: ...
    @property
    def parts(self) -> int: ...
    @property
    def blocks(self) -> int | None: ...


class YardData(Protocol):
    """A yard in memory, as `write_yard` writes it (the synthetic generator's `GeneratedYard` is one)."""

    @property
    def spec(self) -> _SpecData:
        """What was asked for: its `seed`, `parts` and `blocks` go into the manifest."""

    @property
    def layout(self) -> YardLayout:
        """The offset arrays of the id space."""

    @property
    def tables(self) -> Mapping[str, pa.Table]:
        """One table per name of `TABLES`."""

    @property
    def forward(self) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]]:
        """CSR (`indptr`, `indices`) of the precedence edges grouped by their first node."""

    @property
    def reverse(self) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]]:
        """The same edges grouped by their second node."""

    @property
    def generator_version(self) -> str:
        """The version of whatever made the yard."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _code_ranges(layout: YardLayout) -> dict[NodeKind, tuple[str, str]]:
    """The first and last code of each kind the layout holds."""
    starts = [int(v) for v in layout.kind_start]
    return {
        kind: (layout.code_of(starts[k]), layout.code_of(starts[k + 1] - 1))
        for k, kind in enumerate(NODE_KINDS)
        if starts[k + 1] > starts[k]
    }


def write_yard(
    yard: YardData, out: Path, *, overwrite: bool = False, progress: Callable[[str], None] | None = None
) -> Manifest:
    """Write a yard (e.g. a `GeneratedYard`) to `out` atomically and return its manifest.

    Raises:
        FileExistsError: `out` exists and `overwrite` is false.
    """
    import numpy as np
    import pyarrow.parquet as pq

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{str(out)!r} already exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _name: None)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the yard should read like any other directory
    try:
        step("writing tables")
        for name in TABLES:
            pq.write_table(yard.tables[name], tmp / f"{name}.parquet", compression="zstd", row_group_size=_ROW_GROUP)
        (tmp / "layout").mkdir()
        for name in LAYOUT_FILES:
            np.save(tmp / "layout" / f"{name}.npy", np.asarray(getattr(yard.layout, name), dtype=np.int64))
        (tmp / "graph").mkdir()
        arrays = dict(zip(GRAPH_FILES, (*yard.forward, *yard.reverse), strict=True))
        for name, arr in arrays.items():
            np.save(tmp / "graph" / f"{name}.npy", arr)
        step("checksums")
        files = {
            p.relative_to(tmp).as_posix(): FileEntry(bytes=p.stat().st_size, sha256=_sha256(p))
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        }
        manifest = Manifest(
            format=FORMAT,
            format_version=FORMAT_VERSION,
            generator_version=yard.generator_version,
            seed=yard.spec.seed,
            parts=yard.spec.parts,
            blocks=yard.spec.blocks,
            counts=yard.layout.counts,
            num_nodes=yard.layout.num_nodes,
            num_edges=len(yard.forward[1]),
            tables={name: yard.tables[name].num_rows for name in TABLES},
            code_ranges=_code_ranges(yard.layout),
            files=files,
        )
        (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n")
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def replace_directory(tmp: Path, out: Path) -> None:
    """Put a directory written whole at `tmp` in place of `out`: its files synced, then renamed over.

    An `out` that exists is moved aside first and removed after, so `out` is always either the old directory or the
    new one, never a mix; a crash leaves at most a hidden sibling (`.<name>.old-*`) behind.
    """
    for path in tmp.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "yard")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def read_manifest(path: Path) -> Manifest:
    """Read and check a yard directory's manifest.

    Raises:
        YardNotFoundError: no directory or no manifest.
        ManifestError: unreadable JSON, missing fields, or another format version.
    """
    path = Path(path)
    if not path.is_dir():
        raise YardNotFoundError(f"no yard directory at {str(path)!r}; create one with `shipbrain yard generate`")
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise YardNotFoundError(
            f"{str(path)!r} has no manifest.json, so it is not a yard directory (or its write did not finish)"
        )
    try:
        raw = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{str(mpath)!r} is not valid JSON ({exc}); regenerate the yard") from None
    if isinstance(raw, dict) and raw.get("format_version") not in (None, FORMAT_VERSION):
        raise ManifestError(
            f"{str(path)!r} is a yard of format version {raw.get('format_version')!r}; this Shipbrain reads "
            f"version {FORMAT_VERSION}: regenerate it with `shipbrain yard generate`"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ManifestError(f"{str(mpath)!r}: field {where!r}: {err['msg']}; regenerate the yard") from None


def verify_files(path: Path, manifest: Manifest, *, checksums: bool) -> None:
    """Check every file the manifest lists: present, of its recorded size, and (if asked) its SHA-256.

    Raises:
        YardIntegrityError: naming the first file that fails.
    """
    for rel, entry in manifest.files.items():
        fpath = Path(path) / rel
        if not fpath.is_file():
            raise YardIntegrityError(f"yard {str(path)!r} is missing {rel!r}; regenerate or restore it")
        size = fpath.stat().st_size
        if size != entry.bytes:
            raise YardIntegrityError(
                f"{rel!r} in yard {str(path)!r} has {size:,} bytes, the manifest says {entry.bytes:,} "
                "(truncated or replaced); regenerate or restore it"
            )
        if checksums and _sha256(fpath) != entry.sha256:
            raise YardIntegrityError(
                f"{rel!r} in yard {str(path)!r} fails its SHA-256 checksum (the file changed after it was "
                "written); regenerate or restore it"
            )


def load_npy(path: Path, rel: str, *, mmap: bool, dtype: tuple[type[np.generic], ...]) -> npt.NDArray[Any]:
    """Open one `.npy` file of the yard, memory-mapped or not, checking its dtype and rank."""
    import numpy as np

    from knowledge._mapped import open_mapped

    try:
        arr = open_mapped(Path(path) / rel) if mmap else np.load(Path(path) / rel, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise YardIntegrityError(f"{rel!r} in yard {str(path)!r} is not a readable .npy array ({exc})") from None
    if arr.ndim != 1 or arr.dtype.type not in dtype:
        raise YardIntegrityError(
            f"{rel!r} in yard {str(path)!r} holds {arr.dtype}{list(arr.shape)}, expected a 1-d array of "
            f"{'/'.join(t.__name__ for t in dtype)}"
        )
    return arr


def load_layout(path: Path) -> YardLayout:
    """Read the offset arrays of a yard directory."""
    import numpy as np

    from knowledge.layout import YardLayout

    arrays = {name: load_npy(path, f"layout/{name}.npy", mmap=False, dtype=(np.int64,)) for name in LAYOUT_FILES}
    return YardLayout(**arrays)


def read_table(
    path: Path, name: str, columns: list[str] | None = None, where: tuple[str, list[int]] | None = None
) -> pa.Table:
    """Read one attribute table (or some of its columns), optionally only the rows whose `where[0]` is in `where[1]`.

    The filter is pushed down to Parquet: row groups whose statistics exclude the values are not read, so a block's
    rows of a 22.5M-row table cost what the block's row groups cost (the tables are written in block order).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if name not in TABLES:
        raise InputError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
    try:
        if where is not None:
            column, values = where
            return pq.read_table(
                Path(path) / f"{name}.parquet", columns=columns, filters=[(column, "in", [int(v) for v in values])]
            )
        return pq.read_table(Path(path) / f"{name}.parquet", columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise YardIntegrityError(
            f"table {name!r} of yard {str(path)!r} cannot be read ({exc}); regenerate it"
        ) from None


# ---- the imported store (format 4) -------------------------------------------------------------------------

STORE_FORMAT_VERSION: Final = 4


class ImportManifest(BaseModel):
    """What an imported store holds; written last, read first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["shipbrain-yard"] = "shipbrain-yard"
    format_version: Literal[4] = 4
    source: Literal["import"] = "import"
    name: str
    day0: str
    kinds: list[str]
    """The yard's kinds; `nodes/kind.npy` holds indexes into this list."""
    roles: dict[str, list[str]]
    """Role -> the yard's kinds that play it."""
    counts: dict[str, int]
    """Nodes of each kind."""
    num_nodes: int
    num_edges: int
    """Edges of the CSR graph: the yard's edges plus one child -> parent per non-root."""
    hierarchies: list[str]
    tables: dict[str, int]
    """Rows of each stored table (`tables/<name>`, `roles/<role>`, `edges`, `calendar`, `actuals`)."""
    unlocked: dict[str, list[str]]
    """Role -> the models and tools its columns feed completely."""
    files: dict[str, dict[str, int | str]]
    """Relative path -> {"bytes": size, "sha256": digest} of every file but this one."""


def read_import_manifest(store: Path) -> ImportManifest:
    """The manifest of an imported store.

    Raises:
        YardNotFoundError: no directory, or no manifest in it.
        ManifestError: a manifest that is not an imported store's (a format-3 yard of an earlier Shipbrain, say).
    """
    store = Path(store)
    path = store / "manifest.json"
    if not store.is_dir():
        raise YardNotFoundError(
            f"no yard directory at {str(store)!r}; make one with `shipbrain yard generate` or `shipbrain yard import`"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise YardNotFoundError(
            f"{str(store)!r} holds no imported yard (no manifest.json, or its import did not finish)"
        ) from None
    try:
        return ImportManifest.model_validate_json(raw)
    except ValueError as error:
        try:
            found = json.loads(raw)
        except ValueError:
            found = None
        version = found.get("format_version") if isinstance(found, dict) else None
        if isinstance(version, int) and version != STORE_FORMAT_VERSION:
            raise ManifestError(
                f"{str(store)!r} is a yard of format version {version} (an earlier Shipbrain's); this Shipbrain reads "
                f"imported stores (version {STORE_FORMAT_VERSION}): make it again with `shipbrain yard generate` or "
                "`shipbrain yard import`"
            ) from None
        raise ManifestError(f"{str(path)!r} is not an imported yard's manifest: {error}") from None


def check_store_files(store: Path, manifest: ImportManifest) -> None:
    """Every file the manifest lists is there at its size (what opening checks; checksums are for a full check).

    Raises:
        YardIntegrityError: files missing or of the wrong size (the first five named).
    """
    wrong = [
        rel
        for rel, entry in manifest.files.items()
        if not (store / rel).is_file() or (store / rel).stat().st_size != entry["bytes"]
    ]
    if wrong:
        raise YardIntegrityError(f"{str(store)!r}: files missing or of the wrong size: {wrong[:5]}; import it again")


def verify_store(store: Path) -> ImportManifest:
    """The full check of an imported store's files: each one present, of its size, and of its SHA-256.

    Raises:
        YardIntegrityError: naming the files that fail (the first five).
    """
    store = Path(store)
    manifest = read_import_manifest(store)
    check_store_files(store, manifest)
    changed = [rel for rel, entry in manifest.files.items() if _sha256(store / rel) != entry["sha256"]]
    if changed:
        raise YardIntegrityError(
            f"{str(store)!r}: files that fail their SHA-256 checksum (changed after the import): {changed[:5]}; "
            "import it again"
        )
    return manifest
