"""A fake plug-in distribution for a subprocess: a `.dist-info` with entry points, found through PYTHONPATH."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def fake_plugin(
    root: Path, entry_points: Mapping[str, Mapping[str, str]], modules: Mapping[str, str] | None = None
) -> str:
    """Write the distribution `shipbrain-test-plugin` under `root`; returns the PYTHONPATH that finds it.

    Args:
        root: an empty directory.
        entry_points: group -> {name: "module:attr" or "module"}.
        modules: module name -> source, written beside the distribution.
    """
    dist = root / "shipbrain_test_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shipbrain-test-plugin\nVersion: 0.1\n")
    lines: list[str] = []
    for group, members in entry_points.items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in members.items()), ""]
    (dist / "entry_points.txt").write_text("\n".join(lines))
    for name, source in (modules or {}).items():
        (root / f"{name}.py").write_text(source)
    return str(root)
