"""The service and the chat page started on the bulk carrier sample: another yard's own ids, over HTTP."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from knowledge import Settings
from knowledge.store import YardStore
from tests.helpers.yards import BULK_CARRIER
from tests.service.conftest import Api, make_tokens, service_settings
from tests.service.servers import start
from workflows.service import create_app
from workflows.service.chat import examples

BLOCK = "H1042/DB03"


@pytest.fixture
def bulk_api(settings: Settings, bulk_carrier: Path) -> Iterator[Api]:
    app = create_app(settings, bulk_carrier, chat=False, service=service_settings())
    client = TestClient(app, raise_server_exceptions=False)
    client.__enter__()
    store = app.state.service.store
    api = Api(client, store, make_tokens(store))
    yield api
    api.close()


def test_a_question_about_a_bulk_carrier_block_is_answered_over_http(bulk_api: Api) -> None:
    answer = bulk_api.post("/v1/ask", {"question": f"what must be done before {BLOCK}?"}, scope="ask")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "answered" and f"Must be done before {BLOCK}" in body["answer"], body["answer"]
    assert re.search(r"[\d,]+ joints", body["answer"])


def test_a_workflow_runs_over_http_on_the_bulk_carrier(bulk_api: Api) -> None:
    submitted = bulk_api.run({"input": {"code": BLOCK, "budget": {"joints": 3}}}, workflow="weld-inspection-plan")
    assert submitted.status_code == 202, submitted.text
    run = bulk_api.wait(submitted.json()["run_id"], timeout=60)
    assert run["status"] == "completed", run
    result = run["result"]
    assert result["code"] == BLOCK and result["scope"] == "block" and result["joints_inspected"] == 3
    assert all(p["code"].startswith(("W-DB03-", "WE-")) for p in result["inspection_points"])
    synthetic = bulk_api.run({"input": {"code": "B012"}}, workflow="weld-inspection-plan")
    assert synthetic.status_code == 422 and synthetic.json()["error"]["field"] == "input.code"


def test_the_chat_page_offers_questions_in_the_yards_own_codes(bulk_carrier: Path) -> None:
    yard = YardStore.open(bulk_carrier)
    tries = examples(yard)
    blocks, resources = set(yard.codes_of(yard.nodes_of_role("block"))), yard.codes_of(yard.nodes_of_role("resource"))
    named = {code for question in tries for code in re.findall(r"H1042/\w+|[A-Z]+-\d+", question)}
    assert named and named <= blocks | set(resources)
    assert not any(re.search(r"\bB\d{3}\b", q) for q in tries)  # no synthetic block codes


@pytest.mark.slow
def test_shipbrain_serve_on_the_bulk_carrier_answers_over_http(bulk_carrier: Path, tmp_path: Path) -> None:
    """The real `shipbrain serve --yard STORE` in a subprocess: a question over HTTP and the chat page."""
    server = start(tmp_path / "data", "--yard", str(bulk_carrier), "--no-warm", timeout=180)
    try:
        token = server.admin_key  # from the file a first start writes (never printed)
        assert token, server.output()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
            asked = client.post("/v1/ask", json={"question": f"what must be done before {BLOCK}?"}, timeout=120)
            assert asked.status_code == 200 and f"Must be done before {BLOCK}" in asked.json()["answer"]
            page = client.get("/", timeout=60)
            assert page.status_code == 200 and "Shipbrain" in page.text  # the chat page
            config = client.get("/config", timeout=60)  # what the page draws, its questions to try among it
            assert config.status_code == 200 and examples(YardStore.open(bulk_carrier))[0] in config.text
    finally:
        server.kill(signal.SIGTERM)


@pytest.mark.slow
def test_shipbrain_serve_refuses_a_yard_that_is_not_imported(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="not an imported store: import it first"):
        start(tmp_path / "data", "--yard", str(BULK_CARRIER), timeout=60)


def test_the_plan_step_names_each_code_found_with_its_role() -> None:
    """Was: the page failed on every question once plans carried where each code is (`spans`, lists of lists)."""
    from workflows.service.chat import _plan_message

    plan = {
        "intent": "upstream",
        "confidence": 0.9,
        "entities": {"codes": [BLOCK], "roles": ["block"], "spans": [[26, 36, "block"]], "days": 4, "zone": None},
        "steps": [{"tool": "upstream", "args": {"code": BLOCK}}],
    }
    message = _plan_message(plan, 1)
    assert f"**entities** codes {BLOCK} (block), days 4" in message["content"]
    assert message["metadata"]["log"] == f"codes {BLOCK} (block), days 4"
