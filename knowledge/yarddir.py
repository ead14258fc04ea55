"""The yard store on disk: its manifest (read without numpy or pyarrow), and putting a written directory in place.

An imported store (`knowledge.importer`, format 4) is described by its `manifest.json`: what it holds and every
file's size and SHA-256. `read_import_manifest` and `check_store_files` read and check it with pydantic alone, so
`shipbrain yard info` pays for neither numpy nor pyarrow; `verify_store` checks every checksum.
`replace_directory` puts any directory written whole in place (stores, the open yard format): an interrupted write
leaves no half-written directory behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from knowledge.errors import ManifestError, YardIntegrityError, YardNotFoundError

__all__ = [
    "STORE_FORMAT_VERSION",
    "ImportManifest",
    "check_store_files",
    "file_sha256",
    "read_import_manifest",
    "replace_directory",
    "verify_store",
]


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, hex, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


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


# ---- the imported store (format 5) -------------------------------------------------------------------------

STORE_FORMAT_VERSION: Final = 5


class ImportManifest(BaseModel):
    """What an imported store holds; written last, read first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["shipbrain-yard"] = "shipbrain-yard"
    format_version: Literal[5] = 5
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
    changed = [rel for rel, entry in manifest.files.items() if file_sha256(store / rel) != entry["sha256"]]
    if changed:
        raise YardIntegrityError(
            f"{str(store)!r}: files that fail their SHA-256 checksum (changed after the import): {changed[:5]}; "
            "import it again"
        )
    return manifest
