"""What the benchmarks share: memory figures of a process, the machine they ran on, and result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
Json = dict[str, Any]
MiB = 1 << 20
GiB = 1 << 30


def fmt_s(value: float | None) -> str:
    """Seconds for humans (milliseconds to one decimal below a second)."""
    if value is None:
        return "-"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def fmt_x(value: float | None) -> str:
    """A ratio for humans."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_bytes(value: float | None) -> str:
    """Bytes for humans."""
    if value is None:
        return "-"
    return f"{value / GiB:.2f} GiB" if abs(value) >= GiB else f"{value / MiB:.0f} MiB"


def rss_bytes() -> int:
    """Resident set size of this process now."""
    return int(psutil.Process().memory_info().rss)


def _proc_status_bytes(field: str) -> int | None:
    """A memory figure of this process from `/proc/self/status` (Linux), in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    except OSError:
        pass
    return None


def file_backed_rss_bytes() -> int | None:
    """Resident pages of this process that map files (RssFile: libraries and the yard's memory maps)."""
    return _proc_status_bytes("RssFile")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (since start, or since `reset_peak_rss`)."""
    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def machine_info(**versions: str) -> Json:
    """What the benchmark ran on; `versions` adds the libraries a benchmark measures (name=version)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
        git = commit.stdout.strip() or None
    except OSError:
        git = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "total_ram_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
        **versions,
        "git_commit": git,
        "load_average": list(os.getloadavg()),  # other work on the machine skews the timings
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: Path, data: Json) -> None:
    """Write `data` to `path` atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
