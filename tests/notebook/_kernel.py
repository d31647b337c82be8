"""A real IPython kernel driven through jupyter_client, recording every iopub message."""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

from tests._env import CLEARED_PREFIXES, PROXY_VARS


def kernel_env(**extra: str) -> dict[str, str]:
    """The test process's environment without our variables, proxies or keys, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES) and k not in PROXY_VARS}
    env.update(extra)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def _wire_size(msg: dict[str, Any]) -> int:
    parts = [msg.get("header", {}), msg.get("parent_header", {}), msg.get("metadata", {}), msg.get("content", {})]
    return sum(len(json.dumps(p, default=str)) for p in parts) + sum(len(b) for b in msg.get("buffers", []))


@dataclass
class Execution:
    """What one execute request produced."""

    msgs: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)
    idle_at: float = 0.0

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.msgs if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout")

    @property
    def error(self) -> dict[str, Any] | None:
        errs = self.of_type("error")
        return errs[0]["content"] if errs else None

    def custom(self, kind: str) -> list[dict[str, Any]]:
        """The live view's custom messages of one kind (delta, reasoning), whole messages."""
        out = []
        for m in self.of_type("comm_msg"):
            data = m["content"].get("data", {})
            if data.get("method") == "custom" and data.get("content", {}).get("kind") == kind:
                out.append(m)
        return out

    def deltas(self) -> list[dict[str, Any]]:
        """The live view's answer messages (kind=delta: finished blocks as HTML, new text)."""
        return self.custom("delta")

    def live(self) -> LiveState:
        """What the live view showed at the end, rebuilt from its messages as live_view.js does."""
        state = LiveState()
        for m in self.of_type("comm_msg"):
            data = m["content"].get("data", {})
            method = data.get("method")
            msg = data.get("content", {}) if method == "custom" else {}
            kind = msg.get("kind")
            if kind == "delta":
                drop = msg.get("drop", 0)
                assert 0 <= drop <= len(state.tail), (drop, state.tail)  # only text shown is dropped
                state.tail = state.tail[drop:] + msg["text"]
                state.blocks.append(msg.get("html", ""))
                state.text_sent += len(msg["text"])
            elif kind == "reasoning":
                state.reasoning += msg["text"]
            elif method == "update" and "tools" in data.get("state", {}):
                tools = data["state"]["tools"]
                state.head = tools.get("head", state.head)
                for i, html in enumerate(tools.get("rows", [])):
                    if state.rows.get(i) != html:
                        state.rows[i] = html
                        state.row_updates.append(html)
        return state

    def displayed(self) -> list[dict[str, Any]]:
        """The data of display_data / update_display_data / execute_result messages, in order."""
        return [m["content"] for m in self.of_type("display_data", "update_display_data", "execute_result")]

    def final_outputs(self) -> list[dict[str, Any]]:
        """Outputs as a notebook would save them: updates replace the display with their id."""
        outs: list[dict[str, Any]] = []
        for m in self.msgs:
            t, c = m["msg_type"], m["content"]
            if t in ("display_data", "execute_result"):
                outs.append(dict(c))
            elif t == "update_display_data":
                did = c.get("transient", {}).get("display_id")
                for o in outs:
                    if o.get("transient", {}).get("display_id") == did:
                        o["data"], o["metadata"] = c["data"], c["metadata"]
        return outs

    def raw(self) -> str:
        return json.dumps(self.msgs, default=str)

    def wire_bytes(self, msgs: list[dict[str, Any]] | None = None) -> int:
        return sum(_wire_size(m) for m in (self.msgs if msgs is None else msgs))


@dataclass
class LiveState:
    """The live view's content rebuilt from its custom messages."""

    blocks: list[str] = field(default_factory=list)
    tail: str = ""
    reasoning: str = ""
    head: str = ""
    rows: dict[int, str] = field(default_factory=dict)
    row_updates: list[str] = field(default_factory=list)
    text_sent: int = 0

    @property
    def answer_html(self) -> str:
        """The finished blocks' HTML, in order."""
        return "".join(self.blocks)

    def row_statuses(self) -> list[str]:
        """The status of each row update, in order (from the row's osnb-tool-<status> class)."""
        import re

        return [m.group(1) for html in self.row_updates if (m := re.search(r"osnb-tool-(\w+)", html))]


class Kernel:
    """One kernel process, started in `cwd` with `env`."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_spec.argv[0] = sys.executable  # the venv's Python, whatever the spec says
        self.km.start_kernel(env=env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(self, code: str, *, timeout: float = 60.0, on_msg: Any = None) -> Execution:
        """Run `code`; collect its iopub messages until the kernel is idle again."""
        msg_id = self.kc.execute(code, store_history=True)
        ex = Execution()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"kernel still busy after {timeout}s running {code[:60]!r}")
            try:
                msg = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            ex.msgs.append(msg)
            if on_msg is not None:
                on_msg(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                ex.idle_at = time.monotonic()
                break
        while True:  # skip replies to earlier requests (e.g. a comm message's)
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                ex.reply = reply["content"]
                break
        return ex

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
