"""The chat page for planners: ask the brain, watch it work, look at the numbers, approve plan changes.

```python
app = FastAPI()
...  # the service's own routes first: the page, mounted at "/", answers every path no route took
signin = install_signin(app, store, keys)  # workflows.service.signin: /signin, and the gate before every page
mount_chat(app, brain, signin)
```

What the page shows, all driven by `Brain.stream` and the `Answer` it leaves behind:

- the conversation, streamed as it happens: the plan (intent and entities), each tool call with its inputs,
  timing and row count (a spinner while it runs), then the answer; steps are Gradio "thought" messages
  (collapsible, with a title, a log line and a duration);
- the rows of the last result that has any, as a table across the page's width whose headings, units and column
  order are the tool's own (`ToolResult.columns`): cells wrap between words, never inside one, and the table
  scrolls sideways only when the window is too narrow for it; a result without rows shows its headings and says
  "No rows", no result at all shows no table (never Gradio's placeholder headings "1 2 3");
- the plots the tool declares (`ToolSpec.plots`: bars, points, lines, Gantt charts), drawn by one renderer that
  knows no tool by name: a new tool's table and plots show without a change here. Bars keep the tool's order
  unless the plot sorts them, crowded bar labels are turned instead of overlapping, values orders of magnitude
  apart go to one chart per scale (`Plot.split_scales`), and a Gantt chart's rows run in the order the work starts
  (ties in the tool's order), not by name. Plots are Gradio's own (Vega-Lite, drawn as SVG in the browser,
  bundled with Gradio: nothing fetched from the internet, nothing more to install);
- the sources of every number, under the answer;
- a plan change waiting for a decision, said in words in the conversation ("Waiting for your approval: adopt into
  the yard's plan: <block> late by 4 days: 25 erections slip ..."), and approve / reject buttons for a signed-in
  key with the `approve` scope (no one else sees them); they decide through `workflows.service.decisions` (the
  API's decisions) with that key as the approver and the digest of the change this session displayed, so a change
  that moved since is refused, not approved blind; the outcome replaces the request under the question it decides,
  even when questions refused while the thread waited came after it;
- this browser session's past conversations (threads), in a list that reloads a thread when chosen;
- mistakes (an empty or too long question, a thread that waits for a decision, an unknown code) as a
  plain message in the chat, never a traceback.

Identity: the API's. A planner signs in with an API key (`workflows.service.signin`: a session cookie that maps
to the key's id server-side); the gate refuses every page route and every Gradio queue call without a session,
and Gradio itself is mounted with `auth_dependency` (the key's id is its user name, set by the server from the
session, never sent by the browser). What the page does is checked against the key as it is at that moment:
asking and reloading threads want the `ask` scope, approving and rejecting the `approve` scope, so a forged
queue call by a key without it is refused; the approver is the key (its name and id), never a typed name.
Every question, approval and rejection goes into the audit log as the API's do (`ask`, `thread.approve`,
`thread.reject`, refused attempts as `thread.approve.refused`), under the key's id, with `"via": "page"`.

Heavy imports (gradio, pandas) happen inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from brain.supervisor import Answer, Brain
from brain.tools import TOOLS, Column, Plot, ToolResult, columns_of
from knowledge.errors import ShipbrainError

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd
    from fastapi import FastAPI, Request

    from knowledge.store import YardStore
    from workflows.service.decisions import Decisions
    from workflows.service.keys import Principal
    from workflows.service.signin import SignIn

__all__ = ["build_chat", "examples", "mount_chat", "result_plots", "result_table"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Message = dict[str, Any]
"""A chat message as Gradio's Chatbot takes it: role, content and, for a step, metadata."""
Session = dict[str, Any]
"""One browser session: "thread" (the current thread id or None), "threads" ([thread id, label] pairs,
newest first), "messages" (the conversation on screen), "approval_at" (where in them the current thread's
approval request is, or None), "approval_digest" (the digest of the change displayed for a decision, or None: what
an approval from this session names) and "key_id" (the key it belongs to, set by its first event)."""

_CSS: Final = """
.shipbrain-gantt .mark-line path { stroke-width: 14px; stroke-linecap: butt; }
.shipbrain-approval { border: 2px solid var(--color-accent); }
#shipbrain-table .virtual-table-viewport { overflow-x: auto; }
#shipbrain-table .wrap { word-break: normal; overflow-wrap: normal; }
#shipbrain-table .virtual-table-viewport::-webkit-scrollbar { height: 10px; width: 10px; }
#shipbrain-table .virtual-table-viewport::-webkit-scrollbar-thumb {
  background: var(--border-color-primary); border-radius: 5px;
}
"""
_MAX_LABEL: Final = 60
_WAITING: Final = "**Waiting for your approval:**"
_NOT_SIGNED_IN: Final = "You are not signed in any more (or your key was revoked): sign in again at /signin."
_PLOT_DEFAULTS: Final[dict[str, Any]] = {
    "color": None,
    "colors_in_legend": None,
    "sort": None,
    "title": None,
    "x_title": None,
    "y_title": None,
    "color_title": None,
    "x_label_angle": 0,
    "y_lim": None,
    "height": 300,
}
_CROWDED: Final = 40
"""Bar labels whose characters (one more each, for the gap) add up to more than this are turned, not overlapped."""
_UPRIGHT: Final = 12
"""More bars than this: labels stand upright (-90 degrees); up to this many, they lean (-45)."""
_ORDER: Final = "\u200b"
"""A zero-width space: Vega-Lite sorts a chart's categories by their text; n of these before the n-th label make that
sort the rows' own order (yard codes start with a character below it) without changing what anyone reads."""
Slot = Literal["bars", "bars-2", "gantt", "line", "scatter"]
"""A plot component of the page; a result's plots fill them in the order its tool declares them."""
_SLOTS: Final[dict[str, tuple[Slot, ...]]] = {
    "bar": ("bars", "bars-2"),
    "gantt": ("gantt",),
    "line": ("line",),
    "scatter": ("scatter",),
}


def mount_chat(
    app: FastAPI, brain: Brain, signin: SignIn, path: str = "/", *, decisions: Decisions | None = None
) -> FastAPI:
    """Serve the chat page from `app` at `path`, to signed-in keys only.

    Mount it after the service's own routes: a page at "/" answers every path that no earlier route took.
    The app's lifespan must run (uvicorn runs it), since Gradio starts its queue there.

    Args:
        app: the service's FastAPI app.
        brain: the brain that answers, shared by every browser session.
        signin: the service's sign-in (`workflows.service.signin.install_signin` on the same app): who may see
            the page, and whose name an approval carries.
        path: where the page lives.
        decisions: how plan changes are decided (the service's, shared with the API) [default: one over `brain` and
            `signin`'s store, for threads].

    Returns:
        The same app, with the page mounted.
    """
    import gradio as gr

    from workflows.service.signin import principal_of

    async def user(request: Request) -> str | None:
        """Gradio's user for a request: the signed-in key's id (None: Gradio answers 401)."""
        principal = await principal_of(request, signin)
        return None if principal is None else principal.key_id

    return _in_a_loop(
        lambda: gr.mount_gradio_app(
            app,
            _Page(brain, signin, decisions).blocks,
            path=path,
            auth_dependency=user,
            css=_CSS,
            footer_links=["gradio"],
            run_history=False,  # questions and answers stay in the brain's checkpoints, not in the browser
            show_error=False,
        )
    )


def _in_a_loop(make: Callable[[], _T]) -> _T:
    """Call `make` inside a running event loop, in a thread of its own.

    Gradio 6 creates its locks with `utils.safe_get_lock()`, which outside a running loop makes a new event loop
    for each lock and never closes it: unclosed-loop ResourceWarnings when the garbage collector finds them, at
    any later moment. Inside a running loop it makes none, and asyncio's locks and events bind to the loop that
    first waits on them (uvicorn's), not to the one they were made in. A thread of its own leaves the caller's
    event loop alone.
    """

    async def inside() -> _T:
        return make()

    with ThreadPoolExecutor(1, thread_name_prefix="shipbrain-chat") as pool:
        return pool.submit(asyncio.run, inside()).result()


# ---- what a stream event looks like in the chat ---------------------------------------------------------


def _call(tool: str, args: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in args.items() if v is not None)
    return f"{tool}({shown})"


def _entities(entities: dict[str, Any]) -> str:
    """What the plan found, in words: each code with its role ("codes B002 (block)"), then the other values.

    Where in the question each was found (`spans`) is for the planner, not the reader.
    """
    codes, roles = entities.get("codes") or [], entities.get("roles") or []
    found = []
    if codes:
        named = [f"{c} ({r})" if r else str(c) for c, r in zip(codes, [*roles, *[""] * len(codes)], strict=False)]
        found.append("codes " + ", ".join(named))
    for k, v in entities.items():
        if k in ("codes", "roles", "spans") or v in (None, [], ""):
            continue
        found.append(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}")
    return ", ".join(found)


def _plan_message(plan: dict[str, Any], rounds: int) -> Message:
    found = _entities(plan.get("entities", {}))
    steps = plan.get("steps", [])
    lines = [
        f"**intent** {plan.get('intent')} (confidence {plan.get('confidence', 0):.2f})",
        f"**entities** {found or 'none'}",
        "**steps** " + ("; ".join(_call(s["tool"], s.get("args", {})) for s in steps) or "none: answer now"),
        f"**why** {plan.get('reason', '')}",
    ]
    if rounds <= 1:
        title = f"Plan: {plan.get('intent')}"
    else:
        title = f"Plan, round {rounds}: " + ("run more tools" if steps else "done, answering")
    if plan.get("fallback"):  # the configured planner failed: say who planned instead
        title += " (fallback planner)"
    return {
        "role": "assistant",
        "content": "\n\n".join(lines),
        "metadata": {"title": title, "log": found, "status": "done"},
    }


def _pending_message(step: dict[str, Any]) -> Message:
    return {
        "role": "assistant",
        "content": "running…",
        "metadata": {"title": f"Tool {_call(step['tool'], step.get('args', {}))}", "status": "pending"},
    }


def _tool_message(result: ToolResult) -> Message:
    if result.error:
        content, marker = f"**Failed:** {result.error}", "Tool failed:"
    else:
        content, marker = result.summary or "done", "Tool"
    rows = f"{len(result.rows):,} row" + ("" if len(result.rows) == 1 else "s")
    return {
        "role": "assistant",
        "content": content,
        "metadata": {
            "title": f"{marker} {_call(result.tool, result.args)}",
            "log": rows,
            "duration": round(result.seconds, 3),
            "status": "done",
        },
    }


def _approval_message(approval: dict[str, Any]) -> Message:
    """A plan change in words, in the open (not folded away like a step): waiting for a decision, or decided."""
    change = str(approval["change"]).rstrip(". ")
    decision = approval.get("decision", "pending")
    if decision == "pending":
        text = f"{_WAITING} {change}.\n\nApprove or reject it below the chat (a key with the approve scope)."
        return {"role": "assistant", "content": text}
    note = f" ({approval['note']})" if approval.get("note") else ""
    who = f"{approval.get('by')} ({approval['by_key']})" if approval.get("by_key") else approval.get("by")
    said = f"**{decision.capitalize()} by {who}:** {change}{note}."
    if approval.get("outcome") in ("plan_changed", "refused", "failed"):
        said += f"\n\n**Not adopted:** {approval.get('reason')}"
    return {"role": "assistant", "content": said}


def _note(text: str) -> Message:
    return {"role": "assistant", "content": f"⚠ {text}"}


def _sources(answer: Answer | None) -> str:
    if answer is None or not answer.sources:
        return ""
    return "**Sources**\n\n" + "\n".join(f"- {s}" for s in dict.fromkeys(answer.sources))


class _Steps:
    """Turns `Brain.stream` events into chat messages, in place in a session's message list."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.seen = 0
        self.pending: list[int] = []
        self.approval_at: int | None = None
        """Where the approval request is in the messages (its decision replaces it there)."""

    def drop_pending(self) -> None:
        for i in sorted(self.pending, reverse=True):
            del self.messages[i]
        self.pending.clear()

    def add(self, node: str, update: dict[str, Any]) -> None:
        if node == "plan":
            plan = update["plan"]
            self.messages.append(_plan_message(plan, int(update.get("rounds", 1))))
            for step in plan.get("steps", []):
                self.pending.append(len(self.messages))
                self.messages.append(_pending_message(step))
        elif node == "act":
            self.drop_pending()
            results = update.get("results", [])
            self.messages += [_tool_message(ToolResult.model_validate(r)) for r in results[self.seen :]]
            self.seen = len(results)
        elif node == "approval":
            self.drop_pending()
            self.approval_at = len(self.messages)
            self.messages.append(_approval_message(update))
        elif node == "approve" and update.get("approval"):  # a decision after a resume
            self.messages.append(_approval_message(update["approval"]))
        elif node == "answer":
            self.drop_pending()
            self.messages.append({"role": "assistant", "content": update.get("answer", "")})


def _replay(answer: Answer, messages: list[Message]) -> int | None:
    """An answer's steps and text added to `messages` (a thread reloaded from the list); where its approval is."""
    messages.append({"role": "user", "content": answer.question})
    messages.append(_plan_message(answer.plan.model_dump(mode="json"), 1))
    messages += [_tool_message(r) for r in answer.results]
    at = None
    if answer.approval is not None:
        at = len(messages)
        messages.append(_approval_message(answer.approval.model_dump()))
    if answer.status == "answered":
        messages.append({"role": "assistant", "content": answer.answer})
    return at


# ---- tables and plots -------------------------------------------------------------------------------------


def _shown(answer: Answer | None) -> ToolResult | None:
    """The result the table and plots show: the last one with rows, else the last that worked (its headings)."""
    if answer is None:
        return None
    worked = [r for r in answer.results if r.error is None]
    return next((r for r in reversed(worked) if r.rows), worked[-1] if worked else None)


def _columns(result: ToolResult, table: Literal["rows", "breakdown"] = "rows") -> list[Column]:
    """A result's columns; a result from an older checkpoint has none: its tool's, else the keys of its rows."""
    columns = result.columns if table == "rows" else result.breakdown_columns
    if columns:
        return columns
    spec = TOOLS.get(result.tool) if result.tool in TOOLS else None
    model = None if spec is None else spec.row if table == "rows" else spec.breakdown_row
    if model is not None:
        return columns_of(model)
    rows = result.rows if table == "rows" else result.breakdown
    return [Column(name=k, title=k.replace("_", " ")) for k in dict.fromkeys(k for row in rows for k in row)]


def result_table(result: ToolResult | None) -> pd.DataFrame:
    """The rows under the columns' headings, in the columns' order; blanks where a row has no value.

    A result without rows is its headings alone; no result at all is an empty frame (the page hides the table then,
    rather than show Gradio's placeholder headings "1 2 3").
    """
    import pandas as pd

    if result is None:
        return pd.DataFrame()
    columns = _columns(result)
    headings = [c.heading for c in columns]
    return pd.DataFrame([[row.get(c.name, "") for c in columns] for row in result.rows], columns=headings)


def _table_note(answer: Answer | None, shown: ToolResult | None) -> str:
    """A line under the table's place when it has no rows to show, saying why (empty: it has rows, or nothing asked)."""
    if shown is not None:
        return "" if shown.rows else f"No rows: {_call(shown.tool, shown.args)} found none."
    if answer is None:
        return ""
    failed = [r for r in answer.results if r.error is not None]
    if failed:
        return f"No rows: {_call(failed[-1].tool, failed[-1].args)} failed."
    return "No rows: this answer ran no tool."


class _Args(dict[str, object]):
    """A tool's arguments for a plot's title: a name the title uses that the arguments lack stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def result_plots(result: ToolResult | None) -> dict[Slot, dict[str, Any]]:
    """Keyword arguments for the page's plot components, from the plots the result's tool declares.

    Every property is given, None included: Gradio updates only the properties a returned component names, so a
    colour left out would stay the previous plot's (a column this plot does not have: an empty plot). A bar plot
    split by scale (`Plot.split_scales`) fills as many bar slots as it has scales, the last taking what is left.
    """
    if result is None or result.error is not None or result.tool not in TOOLS:
        return {}
    out: dict[Slot, dict[str, Any]] = {}
    for plot in TOOLS.get(result.tool).plots:
        free = [slot for slot in _SLOTS[plot.kind] if slot not in out]
        drawn = _draw(plot, result, len(free)) if free else []
        for slot, one in zip(free, drawn, strict=False):
            out[slot] = {**_PLOT_DEFAULTS, **one}
    return out


def _draw(plot: Plot, result: ToolResult, slots: int = 1) -> list[dict[str, Any]]:
    """One declared plot of a result (in at most `slots` charts), or none when its table lacks what it needs."""
    import pandas as pd

    rows = result.rows if plot.table == "rows" else result.breakdown
    if len(rows) < plot.min_rows:
        return []
    columns = {c.name: c for c in _columns(result, plot.table)}
    frame = pd.DataFrame(rows[: plot.limit] if plot.limit else rows)
    y = plot.y or next((c.name for c in columns.values() if c.name != plot.x and c.type in ("number", "integer")), None)
    needed = [plot.x, *([y] if y and not plot.series else []), *plot.series, *[c for c in (plot.end, plot.color) if c]]
    if frame.empty or (y is None and not plot.series) or any(c not in frame.columns for c in needed):
        return []

    def heading(name: str) -> str:
        return columns[name].heading if name in columns else name.replace("_", " ")

    title = plot.title.format_map(_Args(result.args, y=heading(y) if y else ""))
    if plot.kind == "gantt":
        assert plot.end is not None and y is not None
        spans = frame.dropna(subset=[plot.x, plot.end])
        return [_gantt(spans, y, plot.x, plot.end, title)] if not spans.empty else []
    color = plot.color
    if plot.series:  # one series per column, coloured by the column's heading
        y, color = "value", "series"
        frame = frame.melt(id_vars=plot.x, value_vars=list(plot.series), var_name=color, value_name=y)
        frame[color] = frame[color].map(heading)
        units = {columns[s].unit if s in columns else None for s in plot.series}
        shared = units.pop() if len(units) == 1 else None  # the series' common unit titles the axis
        y_title = plot.y_title or shared or "value"
    else:
        assert y is not None
        y_title = plot.y_title or heading(y)
        if plot.y_scale != 1:
            frame[y] = (frame[y] * plot.y_scale).round(2)
    drawn: dict[str, Any] = {
        "x": plot.x,
        "y": y,
        "color": color,
        "title": title,
        "x_title": heading(plot.x),
        "y_title": y_title,
        "color_title": heading(color) if color and not plot.series else None,
    }
    if plot.kind != "bar":
        return [{**drawn, "value": frame, "sort": plot.sort, "x_label_angle": plot.x_label_angle}]
    parts = _by_scale(frame, y, plot.split_scales, slots) if plot.split_scales and not plot.series else [frame]
    return [
        {
            **drawn,
            "value": part,
            "title": title if len(parts) == 1 else f"{title}: {', '.join(map(str, dict.fromkeys(part[plot.x])))}",
            # undeclared: the tool's order of the bars, not the alphabet's
            "sort": plot.sort or [str(v) for v in dict.fromkeys(part[plot.x])],
            "x_label_angle": plot.x_label_angle or _label_angle(part[plot.x]),
            "y_lim": [min(0.0, float(part[y].min())), None],  # Gradio's axes start at the data: a bar needs zero
        }
        for part in parts
    ]


def _label_angle(labels: pd.Series[Any]) -> float:
    """Bar labels turned when side by side they would overlap: leaning for a few, upright for many."""
    names = [str(v) for v in dict.fromkeys(labels)]
    if sum(len(n) + 1 for n in names) <= _CROWDED:
        return 0
    return -45 if len(names) <= _UPRIGHT else -90


def _by_scale(frame: pd.DataFrame, y: str, apart: float, slots: int) -> list[pd.DataFrame]:
    """The rows in groups of one scale each, largest first, at most `slots` groups (the last takes the rest).

    A group's values are within `apart` times its largest; each group keeps the rows' own order.
    """
    size = frame[y].abs()
    groups: list[list[int]] = []
    top = 0.0
    for i in size.sort_values(ascending=False, kind="stable").index:
        if not groups or (len(groups) < slots and size[i] * apart < top):
            groups.append([])
            top = float(size[i])
        groups[-1].append(i)
    return [frame.loc[sorted(g)] for g in groups]


def _gantt(frame: pd.DataFrame, label: str, start: str, finish: str, title: str) -> dict[str, Any]:
    """Bars from start to finish, one per row, the earliest start on top (ties in the tool's order).

    Each bar is a line from start to finish, drawn thick by the page's CSS.
    """
    import pandas as pd

    frame = frame.sort_values(start, kind="stable")  # stable: rows starting together keep the tool's order
    names = [_ORDER * i + str(v) for i, v in enumerate(frame[label])]  # see _ORDER: the chart keeps this order
    frame = frame.assign(**{label: names})
    long = pd.concat(
        [frame[[label]].assign(day=frame[start]), frame[[label]].assign(day=frame[finish])], ignore_index=True
    ).sort_values([label, "day"], kind="stable")
    return {
        "value": long,
        "x": "day",
        "y": label,
        "color": label,
        "colors_in_legend": [],
        "title": title,
        "height": max(160, 40 * len(frame) + 80),
    }


# ---- the page ---------------------------------------------------------------------------------------------


def examples(yard: YardStore) -> list[str]:
    """Questions to try on the page in the yard's own codes: welding, NDT, erection, a what-if, an adoption."""
    blocks = yard.codes_of(yard.nodes_of_role("block")[:4])
    resources = yard.codes_of(yard.nodes_of_role("resource")[:1])
    found: list[str] = []
    if blocks:
        block, later = blocks[min(1, len(blocks) - 1)], blocks[-1]
        found += [
            f"How risky is the welding in {block}?",
            f"Which joints of block {block} need NDT? Budget 5 %.",
            f"When will {later} be erected?",
        ]
    if resources:
        found.append(f"If {resources[0]} is down for 6 days from day 4, which erections slip?")
    if blocks:
        found.append(f"Adopt into the plan: {block} is late by 4 days")
    return found or ["What can I ask about this yard?"]


def build_chat(brain: Brain, signin: SignIn, decisions: Decisions | None = None) -> gr.Blocks:
    """The chat page over one brain, for the keys of `signin` (see the module docstring for what it shows)."""
    return _in_a_loop(lambda: _Page(brain, signin, decisions).blocks)


class _Page:
    """The page's components and what each event does with them; one per page, shared by every session."""

    def __init__(self, brain: Brain, signin: SignIn, decisions: Decisions | None = None) -> None:
        import gradio as gr

        from workflows.service.decisions import Decisions

        self.brain, self.signin = brain, signin
        self.decisions = decisions or Decisions(signin.store, brain)
        with gr.Blocks(title="Shipbrain", analytics_enabled=False) as self.blocks:
            self.session = gr.State(lambda: {"thread": None, "threads": [], "messages": [], "approval_at": None})
            gr.Markdown(
                "## Shipbrain\nAsk about blocks, assemblies, joints, the schedule and what-ifs. "
                "Each step the brain takes shows as it happens; plan changes wait for approval. "
                "Engineers: [eval runs](/evals)."
            )
            self.who = gr.HTML(elem_id="shipbrain-who")
            with gr.Row():
                with gr.Column(scale=3):
                    self._conversation()
                with gr.Column(scale=2):
                    self._results()
            # the rows take the page's whole width, so a table of many columns is seen whole (it scrolls sideways
            # when even that is too narrow); wrapped cells rather than cut ones
            self.table = gr.Dataframe(
                label="Rows of the last result", max_height=400, wrap=True, visible=False, elem_id="shipbrain-table"
            )
            self.table_note = gr.Markdown(elem_id="shipbrain-table-note")
            self._wire()

    def _conversation(self) -> None:
        import gradio as gr

        self.chat = gr.Chatbot(label="Conversation", height=560, elem_id="shipbrain-chat", buttons=["copy"])
        with gr.Group(visible=False, elem_id="shipbrain-approval", elem_classes="shipbrain-approval") as self.gate:
            self.change = gr.Markdown()
            self.note = gr.Textbox(label="note (optional)")
            with gr.Row():
                self.approve = gr.Button("Approve", variant="primary", elem_id="shipbrain-approve")
                self.reject = gr.Button("Reject", variant="stop", elem_id="shipbrain-reject")
        with gr.Row():
            self.question = gr.Textbox(
                show_label=False, placeholder="Ask about the yard…", scale=5, elem_id="shipbrain-question"
            )
            self.send = gr.Button("Ask", variant="primary", scale=1, elem_id="shipbrain-ask")
        gr.Examples(examples(self.brain.yard), inputs=self.question, label="Try")
        self.sources = gr.Markdown(elem_id="shipbrain-sources")

    def _results(self) -> None:
        import gradio as gr

        with gr.Row():
            self.threads = gr.Dropdown(label="Past conversations", choices=[], scale=3, elem_id="shipbrain-threads")
            self.fresh = gr.Button("New conversation", scale=1, elem_id="shipbrain-new")
        self.plots: dict[Slot, Any] = {
            "bars": gr.BarPlot(visible=False, elem_id="shipbrain-bars", height=300),
            "bars-2": gr.BarPlot(visible=False, elem_id="shipbrain-bars-2", height=300),
            "gantt": gr.LinePlot(visible=False, elem_id="shipbrain-gantt", elem_classes="shipbrain-gantt"),
            "line": gr.LinePlot(visible=False, elem_id="shipbrain-line", height=300),
            "scatter": gr.ScatterPlot(visible=False, elem_id="shipbrain-scatter", height=300),
        }

    def _wire(self) -> None:
        import gradio as gr

        everything = [
            self.chat,
            self.question,
            self.session,
            self.threads,
            self.table,
            self.table_note,
            *self.plots.values(),
            self.sources,
            self.gate,
            self.change,
        ]

        # Each event names its signed-in key through Gradio's request (the user Gradio took from the session,
        # `mount_chat`), never through a value the browser sends. Gradio finds that parameter by its type hint,
        # which must be the class itself (this module's hints are strings, and gradio is imported lazily).
        def asked(text: str, state: Session, request: gr.Request) -> Iterator[dict[Any, Any]]:
            yield from self.ask(text, state, self.principal(request, state))

        def approved(why: str, state: Session, request: gr.Request) -> Iterator[dict[Any, Any]]:
            yield from self.decide(True, why, state, self.principal(request, state))

        def rejected(why: str, state: Session, request: gr.Request) -> Iterator[dict[Any, Any]]:
            yield from self.decide(False, why, state, self.principal(request, state))

        def reloaded(thread: str | None, state: Session, request: gr.Request) -> dict[Any, Any]:
            return self.reload(thread, state, self.principal(request, state))

        def restarted(state: Session, request: gr.Request) -> dict[Any, Any]:
            if self.principal(request, state) is None:  # another key's session is not its to clear
                return {self.chat: [_note(_NOT_SIGNED_IN)]}
            return self.restart(state)

        def greeted(request: gr.Request) -> str:
            return _signed_in_as(self.principal(request))

        for handler in (asked, approved, rejected, reloaded, restarted, greeted):
            handler.__annotations__ = {"request": gr.Request}
        # private: hidden from the API docs and refused to Gradio's client libraries (the page is for people)
        private: dict[str, Any] = {"api_visibility": "private"}
        self.blocks.load(greeted, None, [self.who], **private)
        self.question.submit(asked, [self.question, self.session], everything, **private)
        self.send.click(asked, [self.question, self.session], everything, **private)
        self.approve.click(approved, [self.note, self.session], everything, **private)
        self.reject.click(rejected, [self.note, self.session], everything, **private)
        self.threads.input(reloaded, [self.threads, self.session], everything, **private)
        self.fresh.click(restarted, [self.session], everything, **private)

    def principal(self, request: gr.Request, state: Session | None = None) -> Principal | None:
        """The signed-in key of an event, as the key is now (None: no user, or the key was revoked).

        With `state`: a browser session's state belongs to the key that first acted in it, so its threads are that
        key's; another key calling its events (Gradio names a session by an id the browser chose) is None too.
        """
        key_id = request.username
        principal = self.signin.principal(key_id) if key_id else None
        if principal is None or state is None:
            return principal
        owner = state.setdefault("key_id", principal.key_id)
        if owner != principal.key_id:
            log.warning("the chat page refused key %s an event of a session of key %s", principal.key_id, owner)
            return None
        return principal

    # ---- what the side panels show ------------------------------------------------------------------------

    def views(self, answer: Answer | None, principal: Principal | None = None) -> dict[Any, Any]:
        """Table, plots, sources and the approval panel for an answer (None: clear them).

        The approval panel shows only to a key with the approve scope.
        """
        import gradio as gr

        shown = _shown(answer)
        plots = result_plots(shown)
        waiting = answer is not None and answer.status == "waiting_for_approval" and answer.approval is not None
        may_decide = principal is not None and principal.allows("approve")
        out: dict[Any, Any] = {
            self.table: gr.Dataframe(
                value=result_table(shown),
                label=f"Rows of {_call(shown.tool, shown.args)}" if shown else "Rows",
                visible=shown is not None,  # no result: no table (Gradio would head an empty one "1 2 3")
            ),
            self.table_note: _table_note(answer, shown),
            self.sources: _sources(answer),
            self.gate: gr.Group(visible=waiting and may_decide),
        }
        for slot, component in self.plots.items():
            kind = type(component)  # the slot's own component class: a bar plot stays one
            out[component] = kind(**plots[slot], visible=True) if slot in plots else kind(visible=False)
        if waiting and may_decide and answer is not None and answer.approval is not None and principal is not None:
            out[self.change] = (
                f"**Plan change waiting for a decision:** {answer.approval.change}\n\n"
                f"You decide as **{principal.name}** ({principal.key_id})."
            )
        return out

    def listing(self, state: Session) -> Any:
        import gradio as gr

        return gr.Dropdown(choices=[(label, tid) for tid, label in state["threads"]], value=state["thread"])

    def current(self, thread: str | None) -> Answer | None:
        """A thread's answer as it stands, or None when there is none to show."""
        try:
            return self.brain.result(thread) if thread else None
        except ShipbrainError:
            return None

    @staticmethod
    def remember(state: Session, thread: str, text: str) -> None:
        state["thread"] = thread
        if not any(tid == thread for tid, _ in state["threads"]):
            label = text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"
            state["threads"].insert(0, [thread, label])

    # ---- events -------------------------------------------------------------------------------------------

    def ask(self, text: str, state: Session, principal: Principal | None) -> Iterator[dict[Any, Any]]:
        """Ask the brain, streaming each step into the chat; then the table, plots, sources and approval panel.

        The question is asked as `principal`, which must have the ask scope, and audited under its key's id.
        """
        if principal is None:  # not signed in, or another key's session: nothing of the session goes back
            yield {self.chat: [_note(_NOT_SIGNED_IN)]}
            return
        messages: list[Message] = state["messages"]
        refused = _refusal(principal, "ask")
        if refused is not None:
            messages.append(_note(refused))
            yield {self.chat: messages}
            return
        messages.append({"role": "user", "content": text})
        yield {self.chat: messages, self.question: "", self.session: state}
        steps = _Steps(messages)
        thread = state["thread"]
        try:
            for node, update in self.brain.stream(text, thread, owner=principal.key_id):
                if node == "thread":
                    thread = update["thread_id"]
                    continue
                steps.add(node, update)
                yield {self.chat: messages}
            answer = self.brain.result(thread)
            if state["thread"] is None:  # a new conversation is the key's, as one started on the API
                self.signin.store.own_thread(answer.thread_id, principal.key_id)
            self.signin.audit(principal, "ask", answer.thread_id, _asked(answer, continued=state["thread"] is not None))
        except ShipbrainError as exc:  # the question, the thread or the brain said no: say so plainly
            steps.drop_pending()
            messages.append(_note(str(exc)))
            yield {self.chat: messages, self.session: state}
            return
        except Exception:  # the page never shows a traceback; the log has it
            log.exception("the chat page failed to answer %r", text)
            steps.drop_pending()
            messages.append(_note("Something went wrong answering that; the service log has the details."))
            yield {self.chat: messages, self.session: state}
            return
        self.remember(state, thread, answer.question)
        waiting = answer.status == "waiting_for_approval"
        state["approval_at"] = steps.approval_at if waiting else None
        state["approval_digest"] = answer.approval.digest if waiting and answer.approval else None
        if waiting and not principal.allows("approve"):
            messages.append(_note(_cannot_decide(principal)))
        views = self.views(answer, principal)
        yield {self.chat: messages, self.session: state, self.threads: self.listing(state), **views}

    def decide(self, approved: bool, why: str, state: Session, principal: Principal | None) -> Iterator[dict[Any, Any]]:
        """Record `principal`'s decision on the waiting plan change, streaming the outcome into the chat.

        The approver is the signed-in key (its name and id), which must have the approve scope; the decision is
        audited under the key's id. The outcome goes where the request was, under the question it decides, even
        when later questions (refused while the thread waited) came after it.
        """
        import gradio as gr

        if principal is None:  # not signed in, or another key's session: nothing of the session goes back
            yield {self.chat: [_note(_NOT_SIGNED_IN)], self.gate: gr.Group(visible=False)}
            return
        messages: list[Message] = state["messages"]
        thread = state["thread"]
        refused = _refusal(principal, "approve")
        if refused is not None:
            log.warning("the chat page refused a decision on thread %r: %s", thread, refused)
            messages.append(_note(refused))
            yield {self.chat: messages, self.gate: gr.Group(visible=False)}
            return
        by = f"{principal.name} ({principal.key_id})"
        shown = state.get("approval_digest")
        known = state.get("approval_at")
        at = known if isinstance(known, int) else len(messages)
        asked = messages[at] if at < len(messages) else None
        if asked is None or not str(asked.get("content", "")).startswith(_WAITING):
            at, asked = len(messages), None  # the request is not on screen (should not happen): the outcome goes last
            messages.append({})
        try:
            before = self.brain.result(thread) if thread else None
            if before is None or before.approval is None or before.status != "waiting_for_approval":
                self._put_back(messages, at, asked)
                messages.append(_note("This conversation waits for no decision."))
                yield {self.chat: messages, self.gate: gr.Group(visible=False)}
                return
            verb = "Approving" if approved else "Rejecting"
            messages[at] = {
                "role": "assistant",
                "content": before.approval.change,
                "metadata": {"title": f"{verb} as {by}…", "status": "pending"},
            }
            yield {self.chat: messages, self.gate: gr.Group(visible=False)}
            answer = self.decisions.thread(
                principal,
                thread,
                approved=approved,
                note=why.strip() or None,
                digest=shown if isinstance(shown, str) else None,
                via="page",
            )
        except ShipbrainError as exc:  # decided or changed meanwhile (another tab), or not adopted: it says why
            self._put_back(messages, at, asked)
            messages.append(_note(str(exc)))
            now = self.current(thread)
            if now is not None and now.status == "waiting_for_approval" and now.approval is not None:
                # it waits on another change now: shown in the chat and the panel, that is what a next click decides
                state["approval_digest"] = now.approval.digest
                messages.append(_approval_message(now.approval.model_dump()))
                state["approval_at"] = len(messages) - 1
            yield {self.chat: messages, self.session: state, **self.views(now, principal)}
            return
        except Exception:
            log.exception("the chat page failed to record a decision on thread %r", thread)
            self._put_back(messages, at, asked)
            messages.append(_note("Something went wrong recording the decision; the service log has the details."))
            yield {self.chat: messages}
            return
        outcome: list[Message] = [_approval_message(answer.approval.model_dump())] if answer.approval else []
        outcome += [_tool_message(r) for r in answer.results[len(before.results) :]]
        outcome.append({"role": "assistant", "content": answer.answer})
        messages[at : at + 1] = outcome
        state["approval_at"], state["approval_digest"] = None, None
        yield {self.chat: messages, self.session: state, **self.views(answer, principal)}

    @staticmethod
    def _put_back(messages: list[Message], at: int, asked: Message | None) -> None:
        """The approval request back where it was (or the outcome's placeholder gone) when no decision was made."""
        if asked is not None:
            messages[at] = asked
        else:
            del messages[at]

    def reload(self, thread: str | None, state: Session, principal: Principal | None) -> dict[Any, Any]:
        """A thread chosen from the list (one this browser session asked in): its questions, latest answer, views."""
        import gradio as gr

        if principal is None:  # not signed in, or another key's session: nothing of the session goes back
            return {self.chat: [_note(_NOT_SIGNED_IN)]}
        if not thread or thread == state["thread"]:
            return {self.chat: gr.skip()}  # an empty dict would be read as one output value
        refused = _refusal(principal, "ask")
        if refused is None and not any(tid == thread for tid, _ in state["threads"]):
            refused = "That conversation is not one of this session's."
        if refused is not None:
            state["messages"].append(_note(refused))
            return {self.chat: state["messages"]}
        try:
            answer = self.brain.result(thread)
            try:
                asked = self.brain.history(thread)
            except ShipbrainError:  # a first question still waiting for a decision has no finished run yet
                asked = []
        except ShipbrainError as exc:
            state["messages"].append(_note(str(exc)))
            return {self.chat: state["messages"]}
        earlier = asked[:-1] if answer.status == "answered" and asked[-1:] == [answer.question] else asked
        messages: list[Message] = []
        if earlier:
            messages.append(
                {
                    "role": "assistant",
                    "content": "\n".join(f"- {q}" for q in earlier),
                    "metadata": {"title": f"Earlier in this conversation ({len(earlier)})", "status": "done"},
                }
            )
        at = _replay(answer, messages)
        state["thread"], state["messages"] = thread, messages
        waiting = answer.status == "waiting_for_approval" and answer.approval is not None
        state["approval_at"] = at if waiting else None
        state["approval_digest"] = answer.approval.digest if waiting and answer.approval else None
        return {self.chat: messages, self.session: state, **self.views(answer, principal)}

    def restart(self, state: Session) -> dict[Any, Any]:
        """A new conversation: the next question starts a new thread."""
        import gradio as gr

        state["thread"], state["messages"], state["approval_at"], state["approval_digest"] = None, [], None, None
        return {self.chat: [], self.session: state, self.threads: gr.Dropdown(value=None), **self.views(None)}


def _refusal(principal: Principal, scope: Literal["ask", "approve"]) -> str | None:
    """Why `principal` may not do what `scope` allows on the page, or None when it may."""
    if principal.allows(scope):
        return None
    has = ", ".join(sorted(principal.scopes))
    doing = "ask questions" if scope == "ask" else "approve or reject plan changes"
    return f"Your key {principal.name} ({principal.key_id}) has no {scope} scope (it has {has}): it cannot {doing}."


def _cannot_decide(principal: Principal) -> str:
    return (
        f"This change waits for a key with the approve scope; yours ({principal.name}) has "
        f"{', '.join(sorted(principal.scopes))}."
    )


def _asked(answer: Answer, *, continued: bool) -> dict[str, object]:
    """A question's audit parameters, as the API's `ask` records them."""
    return {
        "question": answer.question,
        "continued": continued,
        "status": answer.status,
        "intent": answer.plan.intent,
        "tools": [r.tool for r in answer.results],
        "approval": answer.approval.model_dump(mode="json") if answer.approval else None,
    }


def _signed_in_as(principal: Principal | None) -> str:
    """Who is signed in, and a sign-out button (a form: signing out is a POST, never a link another site can use)."""
    if principal is None:
        return "<p>Not signed in: <a href='/signin'>sign in</a>.</p>"
    scopes = html.escape(", ".join(sorted(principal.scopes)))
    return (
        "<form method='post' action='/signout' style='display:flex;gap:.8em;align-items:center;margin:0'>"
        f"<span>Signed in as <b>{html.escape(principal.name)}</b> ({principal.key_id}; scopes {scopes})</span>"
        "<button type='submit' id='shipbrain-signout' style='text-decoration:underline;cursor:pointer'>Sign out"
        "</button></form>"
    )
