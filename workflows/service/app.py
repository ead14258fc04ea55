"""The HTTP service: workflows as asynchronous runs, the brain's questions and approvals, OpenAPI at `/docs`.

Swagger UI (`/docs`) and ReDoc (`/redoc`) come from packaged files, so they work without internet
(`workflows.service.docs`).

```python
import uvicorn
from workflows.service import create_app

uvicorn.run(create_app(settings, yard), port=8000)
```

Endpoints (every one but `/healthz` wants an API key with the scope named):

| call | scope | answer |
|---|---|---|
| `GET /healthz` | none | 200 `{"status": "ok"}`, and the yard's warm-up while `serve` warms it (`warm_up`) |
| `GET /v1/workflows`, `GET /v1/workflows/{name}` | run | names, versions, request and result JSON schemas |
| `POST /v1/workflows/{name}/runs` | run | 202 + `Location`: the queued run; body `{"input": {...}, "webhook_url"?}` |
| `GET /v1/runs`, `GET /v1/runs/{id}` | run, approve | runs (a run key sees its own; approve keys see all) |
| `GET /v1/runs/{id}/events` | run, approve | Server-Sent Events after `Last-Event-ID`, then live; bounded (below) |
| `POST /v1/runs/{id}/approval` | approve | `{"approved", "schedule_digest", "note"?}`: adopts or rejects its change |
| `POST /v1/ask` | ask | `{"question", "thread_id"?}` -> the brain's answer |
| `GET /v1/threads/{id}` | ask, approve | a conversation (its key's; approve keys read any) |
| `POST /v1/threads/{id}/approval` | approve | `{"approved", "schedule_digest", "note"?}`: decides its plan change |

Decisions (`workflows.service.decisions`, shared with the chat page): an approval names the change it was shown
(`schedule_digest`); a run is not approved by the key that submitted it; every attempt is audited with its outcome.

`Idempotency-Key` (on run creation): the key and the API key name one run for 24 hours
(`SHIPBRAIN_IDEMPOTENCY_TTL_S`). A repeat with the same body answers 200 with that run (header
`Idempotent-Replayed: true`); the same key with another body is 422; a repeat while the first request is
still being recorded is 409 (retry it).

Event streams (`GET /v1/runs/{id}/events`) are bounded: at most 16 open per API key (`SHIPBRAIN_STREAM_PER_KEY`)
and 512 per process (`SHIPBRAIN_STREAM_MAX`), one more is 429 `too_many_streams` with `Retry-After`; a heartbeat
comment every 15 s; a stream ends after the run's last event, after a held run's `waiting_for_approval` event
(reconnect with `Last-Event-ID` to wait for the decision, after the `retry:` the stream sent), and after an hour
(`SHIPBRAIN_STREAM_MAX_S`; reconnect with `Last-Event-ID`). A client that only waits for the end may instead take
a webhook, or poll `GET /v1/runs/{id}`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse

from knowledge.errors import InputError
from knowledge.settings import Settings, get_settings
from workflows.base import ProgressCallback, Workflow, WorkflowContext, WorkflowRegistry, validate_request
from workflows.errors import WorkflowInputError
from workflows.service._guards import ErrorShape, RateLimit, TrustedHosts
from workflows.service._http import Auth, BodyLimit, api_methods, install_error_handlers, require
from workflows.service.decisions import Decisions
from workflows.service.destinations import DestinationError, Destinations
from workflows.service.docs import mount_docs
from workflows.service.errors import Conflict, MethodNotAllowed, NotFound, Unprocessable
from workflows.service.extensions import ServiceExtension, mount_extensions
from workflows.service.keys import KeyStore, Principal
from workflows.service.models import (
    ApprovalBody,
    AskBody,
    ErrorBody,
    RunView,
    WebhookView,
    WorkflowInfo,
    cross_field_rules,
    submission_model,
)
from workflows.service.runner import Runner
from workflows.service.settings import ServiceSettings, webhook_secret
from workflows.service.store import DuplicateRunError, JsonObject, RunRecord, RunStatus, Store, now
from workflows.service.streams import Streams
from workflows.service.warmup import Warmup
from workflows.service.webhooks import Dispatcher, webhook_status

if TYPE_CHECKING:
    from workflows.service.signin import SignIn

__all__ = ["ServiceState", "create_app"]

log = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_REFUSALS: Mapping[int, str] = {
    400: "Malformed JSON, or a Host header the service does not answer for",
    401: "No API key, or an unknown or revoked one",
    403: "The key lacks the scope",
    404: "No such workflow, run or thread",
    405: "The path takes other methods (see Allow)",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid request",
    429: "Rate limit; see Retry-After",
}
_SUBMITTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "The run, queued (`Location` is its URL)",
        "headers": {"Location": {"description": "The run's URL.", "schema": {"type": "string"}}},
    },
    200: {
        "model": RunView,
        "description": "A replay: this `Idempotency-Key` with the same body made this run already (it is answered as "
        "it stands now, and not started again)",
        "headers": {
            "Idempotent-Replayed": {"description": "`true` on a replay.", "schema": {"type": "string"}},
            "Location": {"description": "The run's URL.", "schema": {"type": "string"}},
            "Idempotency-Key-Expires": {
                "description": "When the key stops naming this run (ISO 8601).",
                "schema": {"type": "string"},
            },
        },
    },
}
_ERRORS: dict[int | str, dict[str, Any]] = {  # FastAPI's type for `responses`
    code: {"model": ErrorBody, "description": what} for code, what in _REFUSALS.items()
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Names this operation for 24 h: a retry with the same key and body gets the same run.",
    ),
]
RunId = Annotated[str, PathParam(max_length=64)]
Reader = Annotated[Principal, Depends(require("run", "approve"))]
"""Who may read runs: run keys (their own runs) and approve keys (every run)."""
AnyKey = Annotated[Principal, Depends(require("ask", "run", "approve"))]
"""Any valid key: a decision checks the approve scope itself, so a refused attempt is audited."""
_EVENTS_DESCRIPTION = """\
The run's stored events numbered after `Last-Event-ID` (all of them without it), then each new one as the run makes
it. Every event has `id` (its number in the run), `event` (its type: `queued`, `started`, `progress`,
`waiting_for_approval`, `completed`, `failed`, `rejected`, `requeued`) and `data` (JSON: `run_id`, `seq`, `type`,
`at`, and the event's fields).

What a client should do:

- **The stream ends** after the run's last event (`completed`, `failed`, `rejected`): the run is over.
- **A held run**: after the `waiting_for_approval` event the stream ends (a decision may take days). To see the
  decision, reconnect with `Last-Event-ID` set to that event's id (after the `retry:` the stream sent, as browsers'
  `EventSource` does): that stream stays open, quiet but for heartbeats, until the decision's event (`completed`
  or `rejected`) and then ends; or take a webhook instead.
- **Lifetime**: a stream ends after `SHIPBRAIN_STREAM_MAX_S` (an hour) whatever the run does: reconnect with
  `Last-Event-ID`; nothing is lost.
- **Heartbeats**: a comment line (`: heartbeat`) after each `SHIPBRAIN_STREAM_HEARTBEAT_S` (15 s) of quiet keeps
  proxies from closing a quiet stream; ignore it. A stream that ends early sends a comment (`: end: ...`) saying why.
- **Revoked keys**: a stream whose key is revoked ends (`: end: the API key was revoked`, no `retry:`) before its
  next event or at its next heartbeat.
- **Caps**: at most `SHIPBRAIN_STREAM_PER_KEY` (16) open streams per API key and `SHIPBRAIN_STREAM_MAX` (512) per
  service process; one more is refused with 429 (`too_many_streams`) and `Retry-After`. Close streams you no
  longer read: a closed connection gives its place back at once.
"""


class ServiceState:
    """What the app holds while it serves: the store, keys, the yard's context, the brain, the workers, the warm-up.

    The yard's context is one for the process: the workflows run on it and the brain's tools too (`brain.context`
    is `ctx`), so what one computes (models, predictions, the adopted schedule) the other reads, and warming it
    serves both.
    """

    def __init__(
        self,
        settings: Settings,
        service: ServiceSettings,
        yard: Path,
        registry: WorkflowRegistry,
        webhook_transport: httpx.BaseTransport | None,
        warm: bool = False,
        warm_progress: ProgressCallback | None = None,
    ) -> None:
        from brain.supervisor import Brain

        self.settings, self.service, self.yard, self.registry = settings, service, yard, registry
        self.store = Store(settings)
        self.keys = KeyStore(self.store)
        self.ctx = WorkflowContext.open(yard, settings)
        self.brain = Brain(yard, settings)
        self.brain.context = self.ctx  # one context per yard: the one Brain made has loaded nothing yet
        self.warmup = Warmup(self.ctx, warm_progress) if warm else None
        """Warms `ctx` in the background once the app starts (`shipbrain serve`), else None."""
        self.destinations = Destinations(service.webhook_allow, allow_public=service.webhook_allow_public)
        """Where webhooks may go: checked when a run names its URL, and again at each delivery."""
        if service.webhook_url is not None:
            try:
                self.destinations.check(service.webhook_url)
            except DestinationError as exc:
                raise InputError(f"SHIPBRAIN_WEBHOOK_URL is refused: {exc}") from None
        secret = webhook_secret(settings, service)
        self.dispatcher = Dispatcher(self.store, secret, service, webhook_transport, self.destinations)
        self.runner = Runner(self.store, registry, self.ctx, service, on_finish=self.dispatcher.wake)
        self.decisions = Decisions(self.store, self.brain, self.runner)
        """Every decision on a plan change, the API's and the page's."""
        self._inflight: set[tuple[str, str]] = set()
        self._inflight_lock = threading.Lock()

    def close(self) -> None:
        """Stop the workers and release the yard, the brain and the HTTP client.

        A warm-up still computing holds the yard's lock for as long as its step takes (a minute at 25M parts): the
        yard is then left to the process's end instead of waiting for it.
        """
        self.runner.stop()
        self.dispatcher.stop()
        if self.warmup is not None and not self.warmup.wait(timeout=1.0):
            log.warning("the yard is still warming (%s); leaving it to the end of the process", self.warmup.status())
            return
        self.brain.close()
        self.ctx.close()

    def health(self) -> dict[str, object]:
        """`/healthz`: ok, and the warm-up's progress when the yard is warmed."""
        if self.warmup is None:
            return {"status": "ok"}
        return {"status": "ok", "warm_up": self.warmup.status()}

    def view(self, run: RunRecord) -> RunView:
        """A run as the API shows it, with its latest progress and its webhook's delivery."""
        progress = self.store.last_progress(run.run_id) if run.status == "running" else None
        webhook = None
        if run.webhook_url is not None and (rows := self.store.webhooks(run.run_id)):
            row, tries = rows[-1], self.service.webhook_max_attempts
            status = webhook_status(row, tries)
            webhook = WebhookView(
                status=status,
                attempts=row.attempts,
                last_error=row.last_error,
                delivered_at=row.delivered_at,
                next_attempt_at=row.next_attempt_at if status == "pending" else None,
            )
        return RunView.of(run, progress, webhook)

    def visible_run(self, run_id: str, principal: Principal) -> RunRecord:
        """A run the principal may see (its own, or any for approve and admin keys), else `NotFound`."""
        run = self.store.get_run(run_id)
        if run is None or (run.key_id != principal.key_id and not principal.allows("approve")):
            raise NotFound(f"no run {run_id!r}")
        return run

    def own_thread(self, thread_id: str, principal: Principal, *, continuing: bool) -> None:
        """Refuse, as if it did not exist (404), a thread another key started.

        Only the key that started a conversation continues it; approve keys (and admin) may also read one, since
        they decide its plan changes.
        """
        self.brain.check_thread_id(thread_id)  # a malformed id stays the 422 it was
        owner = self.store.thread_owner(thread_id)
        if owner == principal.key_id or (not continuing and principal.allows("approve")):
            return
        raise NotFound(f"no thread {thread_id!r}")

    def submit(
        self,
        workflow: Workflow[Any, Any],
        body: JsonObject,
        webhook_url: str | None,
        key: str | None,
        principal: Principal,
    ) -> tuple[RunRecord, bool]:
        """Record a run (or find the one this idempotency key made); returns it and whether it is a replay.

        Args:
            workflow: the workflow to run.
            body: the submission's JSON body as sent (validated): its `input` is the run's request, and the whole
                body is what an `Idempotency-Key` must be repeated with.
            webhook_url: the submission's webhook, if any.
            key: the `Idempotency-Key`, if any.
            principal: who submits.
        """
        sent = {field: value for field, value in body.items() if value is not None}  # an explicit null: the default
        canonical = json.dumps({"workflow": workflow.name, "body": sent}, sort_keys=True, separators=(",", ":"))
        fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
        request = body["input"]
        assert isinstance(request, dict), "the submission model validated the input as an object"
        if key is not None:
            found = self._replay(principal, key, fingerprint)
            if found is not None:
                return found, True
        self.check(workflow, request)
        if key is not None:
            with self._inflight_lock:
                if (principal.key_id, key) in self._inflight:
                    raise _in_flight(key)
                self._inflight.add((principal.key_id, key))
        try:
            run = self.store.create_run(
                workflow=workflow.name,
                version=workflow.version,
                key_id=principal.key_id,
                actor=principal.key_id,
                actor_label=principal.name,
                idempotency_key=key,
                fingerprint=fingerprint,
                request=request,
                webhook_url=webhook_url or self.service.webhook_url,
            )
        except DuplicateRunError:
            assert key is not None
            found = self._replay(principal, key, fingerprint)
            if found is None:  # made by a request of another process that has not committed yet
                raise _in_flight(key) from None
            return found, True
        finally:
            if key is not None:
                with self._inflight_lock:
                    self._inflight.discard((principal.key_id, key))
        self.runner.wake()
        return run, False

    def check_webhook(self, url: str) -> None:
        """Refuse a webhook URL the service will not call (`workflows.service.destinations`) with a 422."""
        try:
            self.destinations.check(url)
        except DestinationError as exc:
            raise Unprocessable(str(exc), kind="webhook_url_not_allowed", field="webhook_url") from None

    def check(self, workflow: Workflow[Any, Any], request: JsonObject) -> None:
        """Refuse a request the yard cannot run (`Workflow.check`: unknown codes, equipment, zones) with a 422.

        The field is named as in the submission's body (`input.events.0.equipment`).
        """
        try:
            validate_request(workflow, request, self.ctx)
        except WorkflowInputError as exc:
            field = "input" if exc.field is None else f"input.{exc.field}"
            raise Unprocessable(exc.message, kind="validation_error", field=field) from None

    def _replay(self, principal: Principal, key: str, fingerprint: str) -> RunRecord | None:
        found = self.store.find_idempotent(principal.key_id, key)
        if found is None:
            return None
        if found.created_at < now() - timedelta(seconds=self.service.idempotency_ttl_s):
            self.store.expire_idempotency_keys(timedelta(seconds=self.service.idempotency_ttl_s))
            return None
        if found.fingerprint != fingerprint:
            raise Unprocessable(
                f"Idempotency-Key {key!r} was used for another request (run {found.run_id}); use a new key for a "
                "new request",
                kind="idempotency_key_reused",
            )
        return found


def _in_flight(key: str) -> Conflict:
    return Conflict(
        f"a request with Idempotency-Key {key!r} is still being processed; retry it",
        kind="idempotency_key_in_flight",
        headers={"Retry-After": "1"},
    )


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


State = Annotated[ServiceState, Depends(_state)]


def _run_response(state: ServiceState, run: RunRecord, response: Response, replayed: bool) -> RunView:
    response.headers["Location"] = f"/v1/runs/{run.run_id}"
    if run.idempotency_key is not None:
        expires = run.created_at + timedelta(seconds=state.service.idempotency_ttl_s)
        response.headers["Idempotency-Key-Expires"] = expires.isoformat()
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return state.view(run)


def _add_run_route(router: APIRouter, workflow: Workflow[Any, Any]) -> None:
    model = submission_model(workflow)

    async def create(
        request: Request,
        response: Response,
        state: State,
        submission: Annotated[model, Body()],  # type: ignore[valid-type]  # a model made at run time
        principal: Annotated[Principal, Depends(require("run"))],
        idempotency_key: IdempotencyKey = None,
    ) -> RunView:
        body: JsonObject = json.loads(await request.body())  # as sent: what an idempotent repeat is compared by
        url = None if submission.webhook_url is None else str(submission.webhook_url)  # type: ignore[attr-defined]
        if url is not None:
            await run_in_threadpool(state.check_webhook, url)  # resolves its host: not on the event loop
        run, replayed = await run_in_threadpool(state.submit, workflow, body, url, idempotency_key, principal)
        return _run_response(state, run, response, replayed)

    # the model is local to this function, so a string annotation (this module's `annotations` future) cannot name it
    create.__annotations__["submission"] = Annotated[model, Body()]
    rules = cross_field_rules(workflow.request)
    description = workflow.description
    if rules:
        description += "\n\nRules across fields (refused with 422 naming the field):\n\n" + "\n".join(
            f"- {rule}" for rule in rules
        )
    router.add_api_route(
        f"/v1/workflows/{workflow.name}/runs",
        create,
        methods=["POST"],
        status_code=202,
        response_model=RunView,
        responses=_SUBMITTED,
        summary=f"Start a {workflow.name} run",
        description=description,
        tags=["workflows"],
        operation_id=f"run_{workflow.name.replace('-', '_')}",
    )


def _workflow_routes(router: APIRouter, registry: WorkflowRegistry) -> None:
    @router.get("/healthz", tags=["service"], summary="Liveness, and the yard's warm-up (no key needed)")
    def healthz(state: State) -> dict[str, object]:
        return state.health()

    @router.get("/v1/workflows", tags=["workflows"], summary="The workflows, with their request and result schemas")
    def list_workflows(_: Annotated[Principal, Depends(require("run"))]) -> list[WorkflowInfo]:
        return [WorkflowInfo.of(w) for w in registry.list()]

    @router.get("/v1/workflows/{name}", tags=["workflows"], summary="One workflow's contract")
    def get_workflow(name: str, _: Annotated[Principal, Depends(require("run"))]) -> WorkflowInfo:
        if name not in registry:
            raise NotFound(f"no workflow {name!r}; the workflows are {', '.join(registry.names())}")
        return WorkflowInfo.of(registry.get(name))

    for workflow in registry.list():
        _add_run_route(router, workflow)

    @router.post("/v1/workflows/{name}/runs", tags=["workflows"], include_in_schema=False)
    def unknown_workflow(name: str, _: Annotated[Principal, Depends(require("run"))]) -> None:
        raise NotFound(f"no workflow {name!r}; the workflows are {', '.join(registry.names())}")


def _run_routes(router: APIRouter) -> None:
    @router.get("/v1/runs", tags=["runs"], summary="Runs, newest first")
    def list_runs(
        state: State,
        principal: Reader,
        status: RunStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[RunView]:
        mine = None if principal.allows("approve") else principal.key_id
        return [RunView.of(r) for r in reversed(state.store.runs(status, key_id=mine, limit=limit))]

    @router.get("/v1/runs/{run_id}", tags=["runs"], summary="A run: status, progress, result or error")
    def get_run(run_id: RunId, state: State, principal: Reader) -> RunView:
        return state.view(state.visible_run(run_id, principal))

    @router.get(
        "/v1/runs/{run_id}/events",
        tags=["runs"],
        summary="A run's events as Server-Sent Events",
        description=_EVENTS_DESCRIPTION,
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "The run's events, as they come"}},
    )
    async def run_events(
        request: Request,
        run_id: RunId,
        state: State,
        principal: Reader,
        last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**31 - 1)] = None,
    ) -> EventSourceResponse:
        await run_in_threadpool(state.visible_run, run_id, principal)
        streams: Streams = request.app.state.streams
        return streams.response(run_id, last_event_id or 0, streams.open(principal.key_id))

    @router.post(
        "/v1/runs/{run_id}/approval",
        tags=["runs"],
        summary="Approve or reject a held plan change (approve scope)",
        description="The approval names the change it was shown (`schedule_digest` from the run's result); the key "
        "that submitted the run may reject it but not approve it (403 `self_approval`, unless "
        "`SHIPBRAIN_ALLOW_SELF_APPROVAL`); a plan that moved since the run is 409 `plan_changed`. Every attempt is "
        "in the audit log.",
    )
    async def approve_run(run_id: RunId, body: ApprovalBody, state: State, principal: AnyKey) -> RunView:
        run = await run_in_threadpool(
            lambda: state.decisions.run(
                principal,
                run_id,
                approved=body.approved,
                note=body.note,
                digest=body.schedule_digest,
                plan_version=body.plan_version,
            )
        )
        return state.view(run)


ThreadId = Annotated[str, PathParam(max_length=128)]


def _brain_routes(router: APIRouter) -> None:
    # An answer goes out as `Answer.model_dump(mode="json")` under a plain object schema: `dict[str, object]`, not
    # the `Answer` model, keeps that schema and lets FastAPI pass the dump on without validating it again.
    @router.post("/v1/ask", tags=["brain"], summary="Ask the brain a question")
    async def ask(
        body: AskBody, state: State, principal: Annotated[Principal, Depends(require("ask"))]
    ) -> dict[str, object]:
        if body.thread_id is not None:
            await run_in_threadpool(state.own_thread, body.thread_id, principal, continuing=True)
        answer = await run_in_threadpool(lambda: state.brain.ask(body.question, body.thread_id, owner=principal.key_id))
        if body.thread_id is None:
            await run_in_threadpool(state.store.own_thread, answer.thread_id, principal.key_id)
        params = {
            "question": answer.question,
            "continued": body.thread_id is not None,
            "status": answer.status,
            "intent": answer.plan.intent,
            "tools": [r.tool for r in answer.results],
            "approval": answer.approval.model_dump(mode="json") if answer.approval else None,
        }
        await run_in_threadpool(_audit, state.store, principal, "ask", answer.thread_id, params)
        return answer.model_dump(mode="json")

    @router.get("/v1/threads/{thread_id}", tags=["brain"], summary="A conversation's latest question as it stands")
    async def get_thread(
        thread_id: ThreadId, state: State, principal: Annotated[Principal, Depends(require("ask", "approve"))]
    ) -> dict[str, object]:
        await run_in_threadpool(state.own_thread, thread_id, principal, continuing=False)
        answer = await run_in_threadpool(state.brain.result, thread_id)
        return answer.model_dump(mode="json")

    @router.post(
        "/v1/threads/{thread_id}/approval",
        tags=["brain"],
        summary="Decide a conversation's plan change (approve scope)",
        description="The approval names the change it was shown (`schedule_digest`: the thread's `approval.digest`); "
        "another change is 409 `proposal_changed`, a plan that moved since is 409 `plan_changed` (nothing adopted; "
        "the decision and the audit entry say so). Every attempt is in the audit log.",
    )
    async def approve_thread(
        thread_id: ThreadId, body: ApprovalBody, state: State, principal: AnyKey
    ) -> dict[str, object]:
        answer = await run_in_threadpool(
            lambda: state.decisions.thread(
                principal,
                thread_id,
                approved=body.approved,
                note=body.note,
                digest=body.schedule_digest,
                plan_version=body.plan_version,
            )
        )
        return answer.model_dump(mode="json")


def _audit(store: Store, principal: Principal, action: str, target: str, params: Mapping[str, object]) -> None:
    store.audit_now(principal.key_id, action, target, params, actor_label=principal.name)


def create_app(
    settings: Settings | None = None,
    yard: Path | str | None = None,
    *,
    start_workers: bool = True,
    chat: bool = True,
    service: ServiceSettings | None = None,
    registry: WorkflowRegistry | None = None,
    webhook_transport: httpx.BaseTransport | None = None,
    extensions: Iterable[ServiceExtension] | None = None,
    warm: bool = False,
    warm_progress: ProgressCallback | None = None,
    hosts: Iterable[str] | None = None,
) -> FastAPI:
    """The service as an ASGI app over one yard.

    The store, the yard's workflow context and the brain open here; the run workers and the webhook dispatcher
    start with the app's lifespan (uvicorn's start-up; `with TestClient(app)`), which also closes everything.

    Args:
        settings: data dir and databases [default: the process's settings].
        yard: the yard's imported store (a directory `shipbrain yard import` wrote) [default: the demo yard].
        start_workers: run queued runs and deliver webhooks in background threads (off: they stay queued).
        chat: serve the planners' chat page at "/" (`workflows.service.chat`).
        service: limits, webhooks and workers [default: from the environment].
        registry: the workflows to serve [default: the shipped ones and `service.workflow_modules`].
        webhook_transport: an httpx transport for webhook deliveries (tests inject one).
        extensions: what adds pages and routes besides the API [default: every installed plug-in of the
            `shipbrain.service` entry-point group, such as the eval runs page; see `workflows.service.extensions`].
        warm: once the app starts, warm the yard in the background (`workflows.service.warmup`): both models'
            predictions over the yard and the adopted schedule, computed or read from the yard's cache, so the first
            questions need not compute them; `/healthz` shows its progress.
        warm_progress: also told `(step, done, total)` as the warm-up goes (the console's lines).
        hosts: the `Host` header values served besides `service.allowed_hosts` [default: localhost, 127.0.0.1 and
            ::1; `serve` adds the address it binds]; any other is refused with 400 on every route.
    """
    settings = settings or get_settings()
    service = service or ServiceSettings()
    registry = registry or WorkflowRegistry(service.workflow_modules)
    yard_dir = Path(yard) if yard is not None else settings.demo_yard_dir
    state = ServiceState(settings, service, yard_dir, registry, webhook_transport, warm, warm_progress)
    streams = Streams(state.store, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(streams.start)
            if start_workers:
                await run_in_threadpool(state.runner.start)
                state.dispatcher.start()
                state.brain.retention.start()  # prunes the brain's checkpoints every interval (brain.checkpoints)
            if state.warmup is not None:
                state.warmup.start()
            yield
        finally:
            await run_in_threadpool(streams.stop)
            await run_in_threadpool(state.brain.retention.stop)
            await run_in_threadpool(state.close)

    app = FastAPI(
        title="Shipbrain",
        version="1",
        summary="Named, typed, asynchronous workflows for MES integrations, and the brain's questions.",
        description=__doc__ or "",
        lifespan=lifespan,
        docs_url=None,  # served from packaged files below, not from a CDN
        redoc_url=None,
    )
    mount_docs(app)
    app.state.service = state
    app.state.streams = streams
    app.state.auth = Auth(state.keys)
    app.state.brain = state.brain
    install_error_handlers(app)
    router = APIRouter(responses=_ERRORS)
    _workflow_routes(router, registry)
    _run_routes(router)
    _brain_routes(router)

    @router.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def no_endpoint(rest: str, request: Request) -> None:
        allowed = sorted(api_methods(request.app, request.url.path))  # as HEAD's and OPTIONS' 405s name them
        if allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        raise NotFound(f"no endpoint /v1/{rest}; the API is described at /docs")

    app.include_router(router)
    from workflows.service.signin import install_signin

    lifetime_s = state.service.page_session_hours * 3600
    signin = install_signin(app, state.store, state.keys, lifetime_s=lifetime_s)  # /signin; no page without it
    app.state.extensions = mount_extensions(app, settings, extensions)
    if chat:
        from workflows.service.chat import mount_chat

        mount_chat(app, state.brain, signin, decisions=state.decisions)  # last: the page answers every other path
    _guard(app, state, hosts, signin)
    return app


def _guard(app: FastAPI, state: ServiceState, hosts: Iterable[str] | None, signin: SignIn) -> None:
    """The guards of every route, pages and sign-in included: trusted hosts, rate limits, body limits, error shape.

    Added after every other middleware, so they run first (Starlette runs the last added outermost).
    """
    service = state.service
    app.add_middleware(ErrorShape)
    app.add_middleware(BodyLimit, max_bytes=service.max_body_bytes, page_max_bytes=service.page_max_body_bytes)
    app.add_middleware(
        RateLimit,
        keys=state.keys,
        rate_limit=service.rate_limit,
        anonymous_rate_limit=service.anonymous_rate_limit,
        storage=service.rate_limit_storage,
        session_of=signin.of_scope,
    )
    served = [*(hosts if hosts is not None else _LOOPBACK_HOSTS), *service.allowed_hosts]
    app.add_middleware(TrustedHosts, hosts=served)
