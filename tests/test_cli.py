"""The `shipbrain` command as a user runs it: a real subprocess of the installed script."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer

from brain.cli import COMMAND_GROUP, SHORT_HELP
from knowledge.importer import store_digest
from knowledge.store import YardStore
from tests.helpers.plugins import fake_plugin

SHIPBRAIN = str(Path(sys.executable).parent / "shipbrain")
HEAVY = ("fastapi", "pyarrow", "langgraph", "ray")


def run(*args: str, data_dir: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "COLUMNS": "200", **env}
    if data_dir is not None:
        environ["SHIPBRAIN_DATA_DIR"] = str(data_dir)
    return subprocess.run([SHIPBRAIN, *args], capture_output=True, text=True, env=environ, timeout=300, check=False)


def test_help_explains_the_commands() -> None:
    top = run("--help")
    assert top.returncode == 0
    assert "yard" in top.stdout and "demo" in top.stdout and "planners" in top.stdout.lower()
    yard = run("yard", "--help")
    for command in ("generate", "info", "query", "verify"):
        assert command in yard.stdout


def test_help_lists_every_command_group_with_its_line() -> None:
    top = run("--help")
    assert top.returncode == 0, top.stderr
    groups = [ep for ep in entry_points(group=COMMAND_GROUP) if ep.dist is not None and ep.dist.name == "shipbrain"]
    assert {ep.name for ep in groups} >= {"yard", "models", "docs", "workflow", "keys", "serve", "eval"}
    listed = [line.strip("│ ").split(" ", 1)[0] for line in top.stdout.splitlines()]
    for name in ("demo", "ask", "approve", *(ep.name for ep in groups)):
        assert name in listed, f"{name!r} missing from shipbrain --help"
    for ep in groups:
        assert SHORT_HELP[ep.name] in top.stdout
    assert "Plug-ins" not in top.stdout and top.stderr == ""


def test_each_groups_line_is_its_own_help() -> None:
    """`shipbrain --help` prints SHORT_HELP without importing the groups: it must say what each group says."""
    for ep in entry_points(group=COMMAND_GROUP):
        if ep.dist is None or ep.dist.name != "shipbrain":
            continue
        sub = ep.load()
        own = sub.info.help if isinstance(sub, typer.Typer) else inspect.getdoc(sub)
        assert isinstance(own, str), ep.name
        assert SHORT_HELP[ep.name] == own.strip().splitlines()[0], ep.name


def imported_by(*args: str) -> set[str]:
    """The top-level modules a `shipbrain` run imported (from its own sys.modules, in a subprocess)."""
    code = (
        "import sys, json\n"
        f"sys.argv = ['shipbrain', *{list(args)!r}]\n"
        "from brain.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "sys.stderr.write(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    report = json.loads(done.stderr.splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    return set(report["modules"])


def test_help_imports_no_heavy_library() -> None:
    modules = imported_by("--help")
    assert "brain.cli" in modules
    assert not {m.split(".")[0] for m in modules} & {*HEAVY, "numpy", "sqlalchemy", "knowledge", "workflows", "evals"}


def test_yard_info_reads_the_manifest_without_pyarrow_or_the_graph(small_yard: Path) -> None:
    modules = imported_by("yard", "info", str(small_yard), "--json")
    assert "knowledge.yarddir" in modules
    assert not {m.split(".")[0] for m in modules} & {*HEAVY, "sqlalchemy", "pydantic_settings"}
    assert not {"knowledge.store", "knowledge._csr", "knowledge.synthetic", "brain.supervisor"} & modules


def test_plug_in_commands_load_when_they_run_and_a_broken_one_is_a_warning(tmp_path: Path) -> None:
    hello = 'def hello(name: str = "yard") -> None:\n    """Say hello."""\n    print(f"hello {name}")\n'
    path = fake_plugin(
        tmp_path,
        {COMMAND_GROUP: {"hello": "shipbrain_test_hello:hello", "broken": "shipbrain_test_missing:app"}},
        {"shipbrain_test_hello": hello},
    )
    top = run("--help", PYTHONPATH=path)
    assert top.returncode == 0 and top.stderr == ""
    assert "Plug-ins" in top.stdout and "shipbrain-test-plugin" in top.stdout
    assert all(name in top.stdout for name in ("hello", "broken", "yard", "serve"))

    said = run("hello", "--name", "B012", PYTHONPATH=path)
    assert said.returncode == 0 and said.stdout == "hello B012\n", said.stderr

    broken = run("broken", PYTHONPATH=path)
    assert broken.returncode == 2
    assert broken.stderr.startswith("warning:") and "'broken' failed to load" in broken.stderr
    assert "Traceback" not in broken.stderr + broken.stdout

    yard = run("yard", "--help", PYTHONPATH=path)  # the others work beside a broken plug-in, without a warning
    assert yard.returncode == 0 and "generate" in yard.stdout and yard.stderr == ""


def test_generate_info_verify(tmp_path: Path) -> None:
    out = tmp_path / "y"
    gen = run("yard", "generate", "--parts", "6000", "--seed", "3", "--out", str(out))
    assert gen.returncode == 0, gen.stderr
    assert "precedence edges" in gen.stdout
    info = json.loads(run("yard", "info", str(out), "--json").stdout)
    g = YardStore.open(out)
    assert info["counts"] == g.counts
    assert info["num_edges"] == g.num_edges
    assert "6,000 parts, seed 3" in info["name"]  # the generated yard says what it was made from
    ok = run("yard", "verify", str(out))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")


def test_the_same_seed_gives_the_same_store_and_the_open_format_can_be_kept(tmp_path: Path) -> None:
    """`yard generate` is generate -> open yard format -> import: the same seed gives the same bytes."""
    first = run("yard", "generate", "--parts", "5000", "--seed", "4", "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    kept = tmp_path / "format"
    args = ("--parts", "5000", "--seed", "4", "--out", str(tmp_path / "b"), "--open-format", str(kept))
    second = run("yard", "generate", *args)
    assert second.returncode == 0, second.stderr
    assert store_digest(tmp_path / "a") == store_digest(tmp_path / "b")
    assert (kept / "yard.toml").is_file() and (kept / "nodes.parquet").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "format"]  # no temporary directory left
    only = run("yard", "generate", "--parts", "5000", "--open-format", str(tmp_path / "only"), "--format-only")
    assert only.returncode == 0, only.stderr
    assert (tmp_path / "only" / "yard.toml").is_file() and not (tmp_path / "only" / "manifest.json").exists()
    imported = run("yard", "import", str(tmp_path / "only"), "--out", str(tmp_path / "c"))
    assert imported.returncode == 0, imported.stderr
    assert store_digest(tmp_path / "c") != store_digest(tmp_path / "a")  # seed 0, not 4
    other = run("yard", "generate", "--parts", "5000", "--seed", "5", "--out", str(tmp_path / "a"), "--force")
    assert other.returncode == 0, other.stderr
    assert store_digest(tmp_path / "a") != store_digest(tmp_path / "b")


def test_default_output_goes_to_the_data_dir(tmp_path: Path) -> None:
    gen = run("yard", "generate", "--parts", "5000", data_dir=tmp_path)
    assert gen.returncode == 0, gen.stderr
    assert (tmp_path / "yards" / "yard-5000-s0" / "manifest.json").is_file()


def test_queries_answer_what_the_graph_says(small_yard: Path) -> None:
    g = YardStore.open(small_yard)
    up = json.loads(run("yard", "query", str(small_yard), "upstream", "B002", "--json").stdout)
    want = g.upstream([g.node_of("B002")])
    assert up["count"] == len(want)
    assert up["codes"] == g.codes_of(want[:20]) and up["truncated"]
    assert sum(up["by_kind"].values()) == len(want)

    blocks = json.loads(run("yard", "query", str(small_yard), "upstream", "B002", "--kinds", "block", "--json").stdout)
    assert blocks["codes"] == g.codes_of(g.upstream([g.node_of("B002")], kinds=["block"]))

    down = json.loads(
        run("yard", "query", str(small_yard), "downstream", "J001-000001", "--depth", "1", "--json").stdout
    )
    assert down["codes"] == g.codes_of(g.successors(g.node_of("J001-000001")))

    path = json.loads(
        run("yard", "query", str(small_yard), "path", "B001-A01-S01-P0001", "--to", "B001", "--json").stdout
    )
    assert path["codes"][0] == "B001-A01-S01-P0001" and path["codes"][-1] == "B001"

    critical = json.loads(run("yard", "query", str(small_yard), "critical", "B004", "--json").stdout)
    assert critical["codes"][-1] == "B004"
    assert critical["finish_hours"] == sorted(critical["finish_hours"])

    table = run("yard", "query", str(small_yard), "members", "B001-A01", "--limit", "5")
    assert table.returncode == 0 and "B001-A01-S01" in table.stdout and "showing 5 of" in table.stdout


def test_the_critical_path_is_by_the_yards_norm_hours(small_yard: Path) -> None:
    import networkx as nx

    g = YardStore.open(small_yard)
    critical = json.loads(run("yard", "query", str(small_yard), "critical", "B004", "--json").stdout)
    norm: dict[int, float] = {}
    for role in ("joint", "outfitting_item"):
        nodes = g.nodes_of_role(role)
        norm |= dict(zip(nodes.tolist(), g.field_of(role, "norm_hours", nodes).tolist(), strict=True))
    chain = g.nodes_of(critical["codes"]).tolist()
    assert critical["finish_hours"][-1] == pytest.approx(sum(norm.get(n, 0.0) for n in chain), rel=1e-6)
    assert any(g.role_of(n) == "joint" for n in chain)
    # the longest chain into B004 by the same hours, from networkx on everything upstream of it
    end = g.node_of("B004")
    sub = g.subgraph([*g.upstream([end]).tolist(), end], limit=g.num_nodes)
    best: dict[int, float] = {}
    for n in nx.topological_sort(sub):
        best[n] = norm.get(n, 0.0) + max((best[p] for p in sub.predecessors(n)), default=0.0)
    assert critical["finish_hours"][-1] == pytest.approx(best[end], rel=1e-6)


def test_the_critical_path_on_the_bulk_carrier_and_on_a_yard_without_norms(bulk_carrier: Path, tmp_path: Path) -> None:
    import shutil

    from knowledge.importer import import_yard
    from tests.helpers.yards import BULK_CARRIER

    done = run("yard", "query", str(bulk_carrier), "critical", "H1042/DB03", "--json", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    chain = json.loads(done.stdout)
    assert chain["codes"][-1] == "H1042/DB03" and chain["finish_hours"][-1] > 0
    assert chain["finish_hours"] == sorted(chain["finish_hours"])
    # the same yard with no norm hours mapped: the answer names the field and how to map it
    source = shutil.copytree(BULK_CARRIER, tmp_path / "no-norms")
    spec = (source / "yard.toml").read_text()
    (source / "yard.toml").write_text("\n".join(x for x in spec.splitlines() if not x.startswith("norm_hours")))
    import_yard(source, tmp_path / "store")
    done = run("yard", "query", str(tmp_path / "store"), "critical", "H1042/DB03", data_dir=tmp_path)
    assert done.returncode == 2
    assert "norm_hours" in done.stderr and "[columns.joint]" in done.stderr and "Traceback" not in done.stderr
    members = run("yard", "query", str(tmp_path / "store"), "members", "H1042/DB03", "--json", data_dir=tmp_path)
    assert members.returncode == 0 and json.loads(members.stdout)["count"] > 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["yard", "query", "{yard}", "upstream", "B999"], "no node has the id 'B999'"),
        (["yard", "query", "{yard}", "upstream", "b001"], "did you mean 'B001'"),
        (["yard", "query", "{yard}", "path", "B001"], "`path` needs --to CODE"),
        (["yard", "query", "{yard}", "upstream", "B001", "--kinds", "weld"], "no kind or role 'weld'"),
        (["yard", "info", "{missing}"], "no yard directory at"),
        (["yard", "generate", "--parts", "10", "--out", "{missing}"], "parts=10"),
        (["yard", "generate", "--parts", "5000", "--out", "{yard}"], "already exists; pass --force"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(small_yard: Path, tmp_path: Path, args: list[str], says: str) -> None:
    result = run(*[a.format(yard=small_yard, missing=tmp_path / "missing") for a in args])
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("error:")


def test_corrupt_yard_is_refused_by_every_command(small_yard: Path, tmp_path: Path) -> None:
    from tests.helpers.yards import copy_yard

    yard = copy_yard(small_yard, tmp_path / "y")
    (yard / "graph" / "reverse_indptr.npy").write_bytes(b"\x93NUMPY")
    for args in (["info", str(yard)], ["query", str(yard), "upstream", "B001"], ["verify", str(yard)]):
        result = run("yard", *args)
        assert result.returncode == 2
        assert "'graph/reverse_indptr.npy'" in result.stderr and "Traceback" not in result.stderr


def test_demo_generates_once_then_reuses(tmp_path: Path) -> None:
    first = run("demo", data_dir=tmp_path, SHIPBRAIN_DEMO_PARTS="5000")
    assert first.returncode == 0, first.stderr
    assert "first start" in first.stderr
    assert "precedence edges" in first.stdout
    assert "indexed" in first.stderr and "demo documents" in first.stderr
    sections = next(line for line in first.stdout.splitlines() if line.startswith("documents:"))
    manifest = (tmp_path / "yards" / "demo" / "manifest.json").read_bytes()
    second = run("demo", data_dir=tmp_path, SHIPBRAIN_DEMO_PARTS="5000")
    assert second.returncode == 0 and "first start" not in second.stderr
    assert (tmp_path / "yards" / "demo" / "manifest.json").read_bytes() == manifest
    assert sections in second.stdout  # the same documents, not indexed twice


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_generate_leaves_no_yard(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "big"
    proc = subprocess.Popen(
        [SHIPBRAIN, "yard", "generate", "--parts", "3000000", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)  # well into generating or writing; the whole run takes several seconds here
    assert proc.poll() is None, "generate finished before it could be interrupted; make the yard bigger"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    assert not out.exists()
    if sig == signal.SIGINT:  # a clean interrupt also removes its temporary directory
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bogus"], "shipbrain: No such command 'bogus'"),
        (["keys", "list", "--bogus"], "shipbrain keys list: No such option: --bogus"),
        (["workflow", "describe"], "shipbrain workflow describe: Missing argument"),
        (["serve", "--port", "x"], "shipbrain serve: Invalid value for '--port'"),
        (["yard", "generate", "--parts", "many"], "shipbrain yard generate: Invalid value for '--parts'"),
        (["eval", "run"], "shipbrain eval run: Missing argument"),
        (["models", "list", "--bogus"], "shipbrain models list: No such option"),
        (["docs", "search", "preheat", "--bogus"], "shipbrain docs search: No such option"),
        (["ask", "x", "--thread"], "Option '--thread' requires an argument"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    """Issue 11, item 12: a bad option was a multi-line framed box; now it is one line like every other refusal."""
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("error:") and "--help" in result.stderr
    assert "╭" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_workflow_describe_takes_json() -> None:
    result = run("workflow", "describe", "reschedule", "--json")
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["name"] == "reschedule" and "events" in described["request_schema"]["properties"]


def test_keys_list_shows_whole_ids_that_revoke_takes(tmp_path: Path) -> None:
    """Issue 11, item 12: `keys list` cut ids on a narrow terminal that `keys revoke` then could not find."""
    made = []
    for name in ("mes-line-3-with-a-rather-long-name", "erp-bridge-with-a-rather-long-name"):
        done = run("keys", "create", "--name", name, "--scopes", "run,approve,ask", "--json", data_dir=tmp_path)
        assert done.returncode == 0, done.stderr
        made.append(json.loads(done.stdout)["key_id"])
    listed = run("keys", "list", data_dir=tmp_path, COLUMNS="60")
    assert listed.returncode == 0, listed.stderr
    for key_id in made:
        assert key_id in listed.stdout
    ambiguous = run("keys", "revoke", "key_", data_dir=tmp_path)
    assert ambiguous.returncode == 2 and "2 keys start with 'key_'" in ambiguous.stderr
    assert all(key_id in ambiguous.stderr for key_id in made)
    revoked = run("keys", "revoke", made[0][:10], data_dir=tmp_path)
    assert revoked.returncode == 0 and f"revoked {made[0]}" in revoked.stdout, revoked.stderr
    whole = run("keys", "revoke", made[1], data_dir=tmp_path)
    assert whole.returncode == 0 and f"revoked {made[1]}" in whole.stdout, whole.stderr
    assert "revoked already" in run("keys", "revoke", made[1], data_dir=tmp_path).stderr
