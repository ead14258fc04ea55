"""OpenAI-compatible Chat Completions: for models that are LLMs (vLLM, Ollama, llama.cpp's llama-server).

The tensor contract is one string in, one string out: `{"prompt": array of str}` becomes
`{"text": array of str}`, one `POST {base_url}/chat/completions` per row at temperature 0. Rows run
on a bounded thread pool, each through the same `CallGuard` (so a 429 is retried per row and the
breaker sees every row's failures), and come back in their input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import numpy.typing as npt
import pydantic
import pydantic_core

from adapters.errors import AdapterInputError, ModelResponseError
from adapters.transports._resilience import CallGuard, http_errors, parse_body, raise_for_status
from adapters.transports.base import CallPolicy, Tensors

__all__ = ["OpenAIChatTransport"]

_DEFAULT_POLICY = CallPolicy()


class _Message(pydantic.BaseModel):
    role: str = "assistant"
    content: str | None = None


class _Choice(pydantic.BaseModel):
    index: int = 0
    message: _Message
    finish_reason: str | None = None


class _ChatCompletion(pydantic.BaseModel):
    choices: list[_Choice] = pydantic.Field(min_length=1)


class OpenAIChatTransport:
    """Runs an LLM behind an OpenAI-compatible Chat Completions endpoint, one call per row.

    Args:
        base_url: The API root, including its version path, e.g. "http://127.0.0.1:8000/v1".
        model: The model name the server knows.
        api_key: Sent as a bearer token; servers that ignore it (Ollama) still accept any value.
        system_prompt: A system message put before every row's prompt.
        policy: Timeouts, retries and circuit breaking, applied per row.
        max_concurrency: Rows in flight at once.
        client: An httpx client to use (and not close); by default the transport owns a pooled one.
    """

    kind = "openai-chat"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        system_prompt: str | None = None,
        policy: CallPolicy = _DEFAULT_POLICY,
        max_concurrency: int = 4,
        client: httpx.Client | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.model, self.system_prompt, self.policy = model, system_prompt, policy
        self.max_concurrency = max_concurrency
        self.url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"content-type": "application/json"}
        if api_key is not None:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._timeout = httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
        )
        self._guard = CallGuard(model, self.kind, policy)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=f"openai-chat-{model}")

    def infer(self, inputs: Tensors) -> dict[str, npt.NDArray[np.generic]]:
        """Complete each prompt.

        Args:
            inputs: `{"prompt": 1-D array of str}`.

        Returns:
            `{"text": 1-D array of str}`, row i answering prompt i.

        Raises:
            AdapterInputError: `inputs` is not a single 1-D string tensor named "prompt".
            ModelCallError: (a subclass) for the first row, in row order, whose call failed.
        """
        prompts = self._prompts(inputs)
        # map() yields in input order and cancels the rows not yet started when one fails.
        texts = list(self._pool.map(self._complete, prompts))
        return {"text": np.array(texts, dtype=np.str_).reshape(len(texts))}

    def close(self) -> None:
        """Stop the worker threads and close the HTTP client if this transport created it."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._owns_client:
            self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIChatTransport({self.url!r}, {self.model!r})"

    def _prompts(self, inputs: Tensors) -> Sequence[str]:
        if set(inputs) != {"prompt"}:
            raise AdapterInputError(
                f"model {self.model!r} over {self.kind}: expected one input named 'prompt', got {sorted(inputs)}"
            )
        prompts = np.asarray(inputs["prompt"])
        if prompts.ndim != 1 or prompts.dtype.kind not in "UO":
            raise AdapterInputError(
                f"model {self.model!r} over {self.kind}: 'prompt' must be a 1-D array of str, "
                f"not {prompts.ndim}-D {prompts.dtype}"
            )
        if not all(isinstance(prompt, str) for prompt in prompts.tolist()):
            raise AdapterInputError(f"model {self.model!r} over {self.kind}: every 'prompt' must be a str")
        result: list[str] = prompts.tolist()
        return result

    def _complete(self, prompt: str) -> str:
        messages: list[dict[str, str]] = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        content = pydantic_core.to_json({"model": self.model, "messages": messages, "temperature": 0})
        return self._guard.call(lambda: self._post(content))

    def _post(self, content: bytes) -> str:
        with http_errors(self.model, self.kind, self.url):
            response = self._client.post(self.url, content=content, headers=self._headers, timeout=self._timeout)
        raise_for_status(self.model, self.kind, response)
        completion = parse_body(self.model, self.kind, _ChatCompletion, response)
        message = completion.choices[0].message
        if message.content is None:
            raise ModelResponseError(
                self.model,
                self.kind,
                f"the completion has no text content (finish_reason {completion.choices[0].finish_reason!r})",
            )
        return message.content
