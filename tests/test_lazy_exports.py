"""Package `__init__`s export their names lazily from one list, the adjacent `__init__.pyi`."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

LAZY_PACKAGES = ("knowledge", "adapters", "evals", "workflows.service")


def stub_names(package: str) -> list[str]:
    init = find_spec(package)
    assert init is not None and init.origin is not None
    stub = Path(init.origin).with_suffix(".pyi")
    tree = ast.parse(stub.read_text())
    return sorted(alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names)


def imported_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_names_people_import_still_import() -> None:
    from adapters import AdapterSpec, Registry, SchemaError
    from evals import SCORERS, compare_runs, load_suite, run_suite
    from knowledge import InputError, Settings, YardSpec, YardStore, generate_store, generate_yard, import_yard
    from knowledge import yarddir as yarddir_module  # a submodule, as before
    from workflows.service import KeyStore, create_app

    assert YardStore.__module__ == "knowledge.store" and Settings.__module__ == "knowledge.settings"
    assert generate_yard.__module__.startswith("knowledge.synthetic") and YardSpec.__name__ == "YardSpec"
    assert issubclass(InputError, Exception) and callable(generate_store) and callable(import_yard)
    assert yarddir_module.__name__ == "knowledge.yarddir"
    assert Registry.__module__ == "adapters.registry" and AdapterSpec.__module__ == "adapters.spec"
    assert issubclass(SchemaError, Exception)
    assert "mae" in SCORERS and callable(compare_runs) and callable(load_suite) and callable(run_suite)
    assert KeyStore.__module__ == "workflows.service.keys" and callable(create_app)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_dir_and_all_list_the_stub_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = stub_names(package)
    assert names and module.__all__ == names
    assert set(names) <= set(dir(module))
    for name in names:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_importing_a_package_imports_none_of_its_modules() -> None:
    modules = imported_after("import knowledge, adapters, evals")
    assert not {m.split(".")[0] for m in modules} & {"numpy", "pyarrow", "fastapi", "langgraph", "ray"}
    assert not {"knowledge.synthetic", "knowledge.store", "evals.runner"} & modules


def test_settings_alone_do_not_pull_in_the_graph_or_the_generator() -> None:
    modules = imported_after("from knowledge import Settings; Settings")
    assert "knowledge.settings" in modules
    assert not {m.split(".")[0] for m in modules} & {"numpy", "pyarrow"}
    assert "knowledge.synthetic" not in modules


def test_a_model_server_imports_adapters_serving_without_pyarrow_or_lazy_loader() -> None:
    """MLServer's own small environment (tests/e2e/install_mlserver.sh) has neither; it imports adapters.serving."""
    block = (
        "import sys\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pyarrow', 'lazy_loader'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "import adapters.serving"
    )
    modules = imported_after(block)
    assert "adapters.serving" in modules and "pyarrow" not in modules
