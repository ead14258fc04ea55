"""OpenAIChatTransport against a scripted OpenAI-compatible server on 127.0.0.1.

No LLM can run here (no weights, no network), so these tests start a small real HTTP server that
speaks the Chat Completions wire format with scripted answers: it echoes each prompt, can delay by
prompt to finish rows out of order, can answer an error for the next requests, and records what it
received. The transport's HTTP, threading and error paths are exercised for real; the text is not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from adapters.errors import AdapterInputError, ModelResponseError, ModelUnavailableError
from adapters.transports import CallPolicy, Transport
from adapters.transports.openai_chat import OpenAIChatTransport

API_KEY = "sk-test"
FAST = CallPolicy(timeout_s=5.0, max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05)


class ScriptedChatServer:
    """An OpenAI-compatible `/v1/chat/completions` that answers "echo: <prompt>"."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.delay_s: dict[str, float] = {}
        """Seconds to wait before answering a given prompt."""
        self.max_in_flight = 0
        self._in_flight = 0
        self._errors: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def answer_next(self, status: int, body: dict[str, Any], count: int = 1) -> None:
        with self._lock:
            self._errors.extend([(status, body)] * count)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        body = json.loads(handler.rfile.read(int(handler.headers["content-length"])))
        with self._lock:
            self.requests.append(body)
            self.headers.append({key.lower(): value for key, value in handler.headers.items()})
            if self._errors:
                return self._errors.pop(0)
        if handler.path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {handler.path}"}}
        if handler.headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
        prompt = body["messages"][-1]["content"]
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        time.sleep(self.delay_s.get(prompt, 0.0))
        with self._lock:
            self._in_flight -= 1
        return 200, {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": f"echo: {prompt}"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, body = server._respond(self)
                content = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def chat_server() -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def transport(chat_server: ScriptedChatServer) -> Iterator[OpenAIChatTransport]:
    chat = OpenAIChatTransport(
        chat_server.base_url, "qwen2.5-7b-instruct", api_key=API_KEY, system_prompt="Answer briefly.", policy=FAST
    )
    try:
        yield chat
    finally:
        chat.close()


def prompts(*texts: str) -> dict[str, np.ndarray]:
    return {"prompt": np.array(texts, dtype=np.str_)}


def test_is_a_transport(transport: OpenAIChatTransport) -> None:
    assert isinstance(transport, Transport)
    assert transport.kind == "openai-chat"


def test_request_body_and_headers(chat_server: ScriptedChatServer, transport: OpenAIChatTransport) -> None:
    outputs = transport.infer(prompts("How long to weld joint J7?"))
    assert list(outputs) == ["text"]
    assert outputs["text"].tolist() == ["echo: How long to weld joint J7?"]
    assert chat_server.requests == [
        {
            "model": "qwen2.5-7b-instruct",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "How long to weld joint J7?"},
            ],
            "temperature": 0,
        }
    ]
    assert chat_server.headers[0]["authorization"] == f"Bearer {API_KEY}"
    assert chat_server.headers[0]["content-type"] == "application/json"


def test_rows_keep_their_order_under_concurrency(chat_server: ScriptedChatServer) -> None:
    texts = [f"joint {n}" for n in range(12)]
    # Earlier rows answer later, so completion order is the reverse of row order.
    chat_server.delay_s = {text: 0.01 * (len(texts) - n) for n, text in enumerate(texts)}
    chat = OpenAIChatTransport(chat_server.base_url, "m", api_key=API_KEY, policy=FAST, max_concurrency=3)
    try:
        outputs = chat.infer(prompts(*texts))
    finally:
        chat.close()
    assert outputs["text"].tolist() == [f"echo: {text}" for text in texts]
    assert chat_server.max_in_flight == 3


def test_429_is_retried(chat_server: ScriptedChatServer, transport: OpenAIChatTransport) -> None:
    chat_server.answer_next(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
    assert transport.infer(prompts("hello"))["text"].tolist() == ["echo: hello"]
    assert len(chat_server.requests) == 2


def test_429_until_attempts_run_out(chat_server: ScriptedChatServer, transport: OpenAIChatTransport) -> None:
    chat_server.answer_next(429, {"error": {"message": "Rate limit reached"}}, count=FAST.max_attempts)
    with pytest.raises(ModelUnavailableError) as caught:
        transport.infer(prompts("hello"))
    assert "HTTP 429" in caught.value.detail and "Rate limit reached" in caught.value.detail
    assert len(chat_server.requests) == FAST.max_attempts


def test_401_is_not_retried(chat_server: ScriptedChatServer) -> None:
    chat = OpenAIChatTransport(chat_server.base_url, "m", api_key="sk-wrong", policy=FAST)
    try:
        with pytest.raises(ModelResponseError) as caught:
            chat.infer(prompts("hello"))
    finally:
        chat.close()
    assert (caught.value.model, caught.value.transport) == ("m", "openai-chat")
    assert "HTTP 401" in caught.value.detail and "Incorrect API key provided" in caught.value.detail
    assert len(chat_server.requests) == 1


def test_malformed_completion_is_a_response_error(
    chat_server: ScriptedChatServer, transport: OpenAIChatTransport
) -> None:
    chat_server.answer_next(200, {"id": "x", "choices": []})
    with pytest.raises(ModelResponseError) as caught:
        transport.infer(prompts("hello"))
    assert "malformed answer" in caught.value.detail and "choices" in caught.value.detail
    assert len(chat_server.requests) == 1


def test_completion_without_text_is_a_response_error(
    chat_server: ScriptedChatServer, transport: OpenAIChatTransport
) -> None:
    tool_call = {"role": "assistant", "content": None, "tool_calls": []}
    chat_server.answer_next(200, {"choices": [{"index": 0, "message": tool_call, "finish_reason": "tool_calls"}]})
    with pytest.raises(ModelResponseError, match="no text content"):
        transport.infer(prompts("hello"))


def test_empty_batch_makes_no_calls(chat_server: ScriptedChatServer, transport: OpenAIChatTransport) -> None:
    outputs = transport.infer(prompts())
    assert outputs["text"].shape == (0,)
    assert chat_server.requests == []


@pytest.mark.parametrize(
    "inputs",
    [
        {"question": np.array(["hi"])},
        {"prompt": np.array([["hi"]])},
        {"prompt": np.array([1.0, 2.0])},
        {"prompt": np.array(["hi", 3], dtype=object)},
    ],
    ids=["wrong-name", "two-dimensional", "numbers", "mixed-objects"],
)
def test_bad_inputs_are_the_callers_mistake(transport: OpenAIChatTransport, inputs: dict[str, np.ndarray]) -> None:
    with pytest.raises(AdapterInputError):
        transport.infer(inputs)
