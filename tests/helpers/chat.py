"""A scripted chat model: the LLM path of the brain tested without an LLM.

No LLM server can run where the tests run (no GPU, no network, no weights), and a live model would make
tests slow and flaky anyway. `ScriptedChatModel` stands in for any LangChain chat model: it supports
`bind_tools`, replies from a script (a list of messages, or a function of the messages it was sent), and
records every call (the messages, and the tools bound to that call, if any), so a test can assert what
a model would have seen. It never looks at the tools it is given: a script decides what to call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

__all__ = ["Call", "OpenAIStub", "Reply", "ScriptedChatModel", "call", "text"]

Reply = AIMessage | BaseException
"""One scripted turn: a message to answer with, or an error to raise (a timeout, a refused request)."""


class Call(BaseModel):
    """One call of the model: what it was sent, and the tools bound to that call (None: no tools)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    messages: list[BaseMessage]
    tools: list[dict[str, Any]] | None = None

    @property
    def transcript(self) -> str:
        """Everything the model was sent, as one text (to search for what it must never see)."""
        return "\n".join(f"{m.type}: {m.content}" for m in self.messages)

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools bound to the call."""
        return [t["function"]["name"] for t in self.tools or []]


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies from a script and records every call.

    Args:
        script: the replies in order, or a function of the messages (and the bound tools) giving the reply.
    """

    script: SkipValidation[list[Reply] | Callable[[list[BaseMessage], list[dict[str, Any]] | None], Reply]]
    """Kept as given: a scripted error is raised, not validated into a message."""
    model_name: str = "scripted"
    calls: list[Call] = Field(default_factory=list)
    bound: list[list[dict[str, Any]]] = Field(default_factory=list)
    """The tool lists `bind_tools` was called with."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as OpenAI tool schemas, recording them."""
        from langchain_core.utils.function_calling import convert_to_openai_tool

        schemas = [convert_to_openai_tool(t) for t in tools]
        self.bound.append(schemas)
        return self.bind(tools=schemas, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tools = kwargs.get("tools")
        self.calls.append(Call(messages=list(messages), tools=tools))
        if callable(self.script):
            reply = self.script(list(messages), tools)
        else:
            turn = len(self.calls) - 1
            if turn >= len(self.script):
                raise AssertionError(f"the script has {len(self.script)} replies; the model was called again")
            reply = self.script[turn]
        if isinstance(reply, BaseException):
            raise reply
        return ChatResult(generations=[ChatGeneration(message=reply)])


def call(tool: str, call_id: str = "c1", **args: Any) -> AIMessage:
    """A reply that calls one tool."""
    return AIMessage("", tool_calls=[ToolCall(name=tool, args=args, id=call_id)])


def text(words: str) -> AIMessage:
    """A reply that calls no tool: the model's answer."""
    return AIMessage(words)


class OpenAIStub:
    """A local OpenAI-compatible chat endpoint answering from a script, recording each request body.

    It checks the wire format a real endpoint would see (how LangChain's `ChatOpenAI` sends the tools,
    the tool calls and their results) without a model. Use as a context manager; `url` is its base URL.

    Args:
        replies: the assistant messages to answer with, in order, as OpenAI `message` objects.
    """

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                message = stub.replies[len(stub.requests) - 1]
                reply = {
                    "id": f"chatcmpl-{len(stub.requests)}",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", **message},
                            "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
