"""The service's extension point: plug-ins add pages beside the API, and a broken one never stops the service."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

import workflows.service.extensions as extensions
from knowledge.plugins import PluginRegistry, PluginWarning
from knowledge.settings import Settings
from tests.service.conftest import Api


def add_hello_page(app: FastAPI, settings: Settings) -> None:
    @app.get("/hello", response_class=PlainTextResponse, include_in_schema=False)
    def hello() -> str:
        return f"hello from {settings.data_dir.name}"


def add_nothing_but_fail(app: FastAPI, settings: Settings) -> None:
    raise RuntimeError("this plug-in is broken")


def mounted(api: Api) -> list[str]:
    app = api.client.app
    assert isinstance(app, FastAPI)
    return list(app.state.extensions)


def test_the_eval_runs_page_comes_through_the_entry_point(api: Api) -> None:
    assert "add_evals_page" in mounted(api)
    assert api.client.get("/evals", headers=api.auth()).status_code == 200
    assert "/evals" not in api.client.get("/openapi.json").json()["paths"]


def test_a_plugin_that_fails_to_mount_is_a_warning(make_api: Callable[..., Api]) -> None:
    with pytest.warns(PluginWarning, match="add_nothing_but_fail.*RuntimeError: this plug-in is broken"):
        api = make_api(extensions=[add_nothing_but_fail, add_hello_page])
    assert mounted(api) == ["add_hello_page"]
    assert api.client.get("/hello", headers=api.auth()).text == "hello from data"
    assert api.get("/v1/workflows").status_code == 200
    assert api.client.get("/evals", headers=api.auth()).status_code == 404  # only the extensions given were mounted


def test_a_plugin_that_fails_to_load_is_a_warning(
    make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = importlib.metadata.entry_points

    def with_a_broken_one(**select: str) -> importlib.metadata.EntryPoints:
        found = list(installed(**select))
        if select.get("group") == "shipbrain.service":
            found.append(importlib.metadata.EntryPoint("broken", "no_such_module:add_page", "shipbrain.service"))
        return importlib.metadata.EntryPoints(found)

    monkeypatch.setattr(importlib.metadata, "entry_points", with_a_broken_one)
    fresh: PluginRegistry[extensions.ServiceExtension] = PluginRegistry("service extension", group="shipbrain.service")
    monkeypatch.setattr(extensions, "SERVICE_EXTENSIONS", fresh)
    with pytest.warns(PluginWarning, match="'broken' .*ModuleNotFoundError"):
        api = make_api()
    assert api.client.get("/evals", headers=api.auth()).status_code == 200  # the working plug-ins still mounted
    assert api.get("/v1/workflows").status_code == 200
    assert fresh.problems and "no_such_module" in fresh.problems[0]
