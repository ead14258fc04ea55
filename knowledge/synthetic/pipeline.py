"""The synthetic yard end to end: generated, written in the open yard format, imported into a store.

The synthetic yard reaches the brain the way every yard does: `generate_yard` makes it in memory,
`knowledge.synthetic.yardformat.write_format` writes it as a shipyard would export its own, and
`knowledge.importer.import_yard` imports that into a store (`knowledge.store.YardStore`). `shipbrain yard generate`
is this module.

```python
from knowledge.synthetic import YardSpec
from knowledge.synthetic.pipeline import generate_store

generate_store(YardSpec(parts=20_000, seed=1), Path("yard"))                 # the store only
generate_store(YardSpec(parts=20_000, seed=1), Path("yard"), open_format=Path("yard-format"))  # and the format
generate_store(YardSpec(parts=20_000, seed=1), None, open_format=Path("yard-format"))          # the format only
```

**All or nothing.** The format is written to a hidden sibling of the store (`.<name>.format-*`, removed at the
end) and imported from there; the import itself writes to a temporary sibling renamed into place. A failure or a
kill leaves nothing at the target (a kill may leave a hidden sibling, which the next run removes). The same spec
gives the same bytes: `knowledge.importer.store_digest` of two runs is equal.

**Memory.** The generated yard (some 4.5 GiB at 25M parts) is let go, and its heap pages handed back, once the
format is written: the import reads the format from disk, so the two never share the machine.
"""

from __future__ import annotations

import ctypes
import gc
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from knowledge.errors import InputError
from knowledge.importer import IMPORT_STEPS
from knowledge.synthetic.generator import GENERATE_STEPS, YardSpec, generate_yard
from knowledge.synthetic.yardformat import FORMAT_STEPS, write_format

__all__ = ["generate_store", "pipeline_steps"]

Progress = Callable[[str], None]


def pipeline_steps(*, store: bool = True) -> tuple[str, ...]:
    """Every step `generate_store` announces, in order (without the import's when it writes the format only)."""
    return (*GENERATE_STEPS, *FORMAT_STEPS, *(IMPORT_STEPS if store else ()))


def generate_store(
    spec: YardSpec,
    out: Path | None,
    *,
    open_format: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Generate the synthetic yard of `spec` and import it into a store at `out`; returns what was written.

    `open_format` also keeps the open yard format there (with `out` None: writes only that, and returns it).
    `progress` hears each of `pipeline_steps()` as it starts.

    Raises:
        FileExistsError: `out` or `open_format` exists and `overwrite` is false (checked before generating).
        InputError: neither `out` nor `open_format`, or both the same directory.
    """
    from knowledge.importer import import_yard

    targets = [Path(p) for p in (out, open_format) if p is not None]
    if not targets:
        raise InputError("nothing to write: give a store directory, an open-format directory, or both")
    if len(targets) == 2 and targets[0].resolve() == targets[1].resolve():
        raise InputError(f"the store and the open format cannot share one directory ({str(targets[0])!r})")
    for path in targets:
        if path.exists() and not overwrite:
            raise FileExistsError(f"{str(path)!r} already exists; pass --force to replace it")
    yard = generate_yard(spec, progress=progress)
    if out is None:
        assert open_format is not None
        return write_format(yard, Path(open_format), overwrite=overwrite, progress=progress)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.format-*"):  # what a killed run left: never the store
        shutil.rmtree(stale, ignore_errors=True)
    scratch = None if open_format is not None else Path(tempfile.mkdtemp(prefix=f".{out.name}.format-", dir=out.parent))
    try:
        where = Path(open_format) if open_format is not None else Path(str(scratch)) / "yard"
        source = write_format(yard, where, overwrite=overwrite, progress=progress)
        del yard  # the import reads the format from disk: the generated yard's GiBs go before it starts
        _release_memory()
        import_yard(source, out, overwrite=overwrite, progress=progress)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def _release_memory() -> None:
    """Hand what the generated yard held back to the system before the import starts.

    Its arrays are numpy's (Arrow's tables wrap them without a copy), freed at once, but glibc keeps the freed heap
    pages: at 5M parts 0.51 GiB stayed resident after `del`, 0.14 GiB after `malloc_trim`.
    """
    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # another C library: nothing to trim
            pass
