"""The conformance suite's table: one row per check, one column per server, printed at the end of the run.

Each test of `test_conformance.py` runs once per server (its `server` fixture's parameter); its outcome lands
in one cell: "pass", "FAIL" (the check failed), "ERROR" (the server or a fixture could not be set up) or
"skip"; a "*" marks a pass with a note (the test's `user_properties` "note", listed under the table). The
table is printed by `pytest_terminal_summary`, so it appears in `bash tests/run.sh`'s output
whenever the suite ran, whatever else ran beside it.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

SERVER_COLUMNS = ("mlserver", "triton", "kserve")
_RESULTS: dict[str, dict[str, str]] = {}
"""check -> server -> outcome, in the order the checks first ran."""
_NOTES: dict[str, int] = {}
"""The notes of passes, each with its footnote number."""


def _check_name(item: pytest.Item) -> tuple[str, str] | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "server" not in callspec.params:
        return None
    name = getattr(item, "originalname", item.name).removeprefix("test_")
    others = [str(value) for key, value in callspec.params.items() if key != "server"]
    return (f"{name} {' '.join(others)}" if others else name), str(callspec.params["server"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    cell = _check_name(item)
    if cell is None:
        return report
    check, server = cell
    row = _RESULTS.setdefault(check, {})
    if report.when == "setup" and report.failed:
        row[server] = "ERROR"
    elif report.when == "setup" and report.skipped:
        row[server] = "skip"
    elif report.when == "call":
        row[server] = "pass" if report.passed else "FAIL"
        notes = [str(value) for key, value in item.user_properties if key == "note"]
        if report.passed and notes:
            row[server] += "*" * _NOTES.setdefault(notes[0], len(_NOTES) + 1)
    elif report.when == "teardown" and report.failed and row.get(server, "").startswith("pass"):
        row[server] = "ERROR"
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the server x check table of the checks that ran."""
    if not _RESULTS:
        return
    width = max(len(check) for check in _RESULTS) + 2
    terminalreporter.write_sep("=", "v2 conformance: server x check")
    header = f"{'check':<{width}}" + "".join(f"{server:<10}" for server in SERVER_COLUMNS)
    terminalreporter.write_line(header.rstrip())
    for check, row in _RESULTS.items():
        cells = "".join(f"{row.get(server, '-'):<10}" for server in SERVER_COLUMNS)
        terminalreporter.write_line(f"{check:<{width}}{cells}".rstrip())
    outcomes = [outcome for row in _RESULTS.values() for outcome in row.values()]
    for note, stars in _NOTES.items():
        terminalreporter.write_line(f"{'*' * stars} {note}")
    passed = sum(outcome.startswith("pass") for outcome in outcomes)
    terminalreporter.write_line(f"{passed} of {len(outcomes)} cells pass")
