"""Tool calls a model wrote as text, recovered into real ones (`parse_text_tool_calls`).

Local servers often return a tool call inside the answer's text with `tool_calls` empty: the
server was started without its tool parser (llama.cpp without `--jinja`, vLLM without
`--enable-auto-tool-choice`), or its parser missed the model's format. Two shapes are common:

- Hermes / Qwen: `<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>`,
  possibly several, possibly after some words ("Let me check.");
- a bare JSON object as the whole answer: `{"name": ..., "arguments": ...}` (Llama 3.x writes
  `"parameters"` instead of `"arguments"`), or a list of them, possibly in a ```json fence.

`recover()` wraps a provider's delta stream. Text that may be such a call is held back (from a
`<tool_call>` on, or a whole answer that starts with `{` / `[` / a fence) until the answer ends;
then calls that name one of the agent's tools become `tool_call` deltas marked
`parsed_from_text`, and whatever is left is let through as text. A call naming no tool of the
agent stays text, and nothing is parsed when the server sent real tool calls.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Collection
from contextlib import aclosing
from typing import Any

from openstackai_nb.messages import ModelDelta, ToolCallRequest

__all__ = ["TextToolCalls", "recover"]

_OPEN = "<tool_call>"
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class TextToolCalls:
    """Holds back the text of one answer that may be tool calls; `end()` recovers them."""

    __slots__ = ("held", "names", "whole")

    def __init__(self, names: Collection[str]) -> None:
        self.names = frozenset(names)
        self.held = ""  # text not let through yet
        self.whole = True  # nothing let through yet: the answer may be a bare JSON call

    def feed(self, text: str) -> str:
        """Take a text delta; return the part that can be shown now."""
        held = self.held + text
        if self.whole:
            if _may_be_bare(held.lstrip()):
                self.held = held
                return ""
            self.whole = False
        at = held.find(_OPEN)
        if at < 0:
            # keep a tail that may be the start of "<tool_call>"
            tail = range(max(0, len(held) - len(_OPEN) + 1), len(held))
            at = next((i for i in tail if _OPEN.startswith(held[i:])), -1)
        if at < 0:
            self.held = ""
            return held
        self.held = held[at:]
        return held[:at]

    def end(self) -> tuple[str, list[ToolCallRequest]]:
        """(the text still to show, the recovered calls) once the answer is whole."""
        held, self.held = self.held, ""
        if not held.strip():
            return held, []
        if self.whole and _OPEN not in held:
            calls = self._calls(_bare(held), 0)
            return ("", calls) if calls else (held, [])
        calls: list[ToolCallRequest] = []
        kept: list[str] = []
        last = 0
        for match in _BLOCK.finditer(held):
            found = self._calls(_loads(match.group(1)), len(calls))
            if found:
                kept.append(held[last : match.start()])
                last = match.end()
                calls.extend(found)
        kept.append(held[last:])
        rest = "".join(kept)
        return (rest.strip() if calls else rest), calls

    def _calls(self, data: Any, start: int) -> list[ToolCallRequest]:
        """Calls out of parsed JSON (an object or a list of them); [] unless every one names a tool."""
        items = data if isinstance(data, list) else [data]
        out: list[ToolCallRequest] = []
        for item in items:
            call = self._call(item, start + len(out))
            if call is None:
                return []
            out.append(call)
        return out

    def _call(self, item: Any, index: int) -> ToolCallRequest | None:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        args = item.get("arguments", item.get("parameters", {}))
        if not isinstance(name, str) or name not in self.names or set(item) - {"name", "arguments", "parameters", "id"}:
            return None
        if isinstance(args, str):
            text = args.strip() or "{}"
        elif isinstance(args, dict):
            text = json.dumps(args, ensure_ascii=False)
        else:
            return None
        return ToolCallRequest(
            id=f"call_text_{uuid.uuid4().hex[:12]}_{index}", name=name, arguments=text, parsed_from_text=True
        )


def _may_be_bare(head: str) -> bool:
    """Whether an answer that begins with `head` may still be a bare JSON call (in a fence or not)."""
    if not head or head[0] == "{":
        return True
    if head[0] == "[":  # a list of calls, not a markdown link
        rest = head[1:].lstrip()
        return not rest or rest[0] == "{"
    if not head.startswith("`"):
        return False
    if "```json".startswith(head) or "```".startswith(head):
        return True
    fence = re.match(r"```(?:json)?\s*", head)
    if fence is None:
        return False
    rest = head[fence.end() :]
    return not rest or rest[0] in "{["


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _bare(text: str) -> Any:
    text = text.strip()
    fenced = _FENCE.match(text)
    return _loads(fenced.group(1) if fenced else text)


async def recover(deltas: AsyncIterator[ModelDelta], names: Collection[str]) -> AsyncGenerator[ModelDelta, None]:
    """The same deltas, with tool calls written as text turned into `tool_call` deltas (see the module docs)."""
    held = TextToolCalls(names)
    settled = False
    async with aclosing(deltas):  # type: ignore[type-var]
        async for delta in deltas:
            if delta.kind == "text" and not settled:
                shown = held.feed(delta.text)
                if shown:
                    yield ModelDelta("text", text=shown)
                continue
            if delta.kind in ("tool_call", "finish", "usage") and not settled:
                settled = True  # real tool calls: nothing is parsed; else the answer is whole
                rest, calls = (held.held, []) if delta.kind == "tool_call" else held.end()
                if rest:
                    yield ModelDelta("text", text=rest)
                for call in calls:
                    yield ModelDelta("tool_call", tool_call=call)
            yield delta
        if not settled:
            rest, calls = held.end()
            if rest:
                yield ModelDelta("text", text=rest)
            for call in calls:
                yield ModelDelta("tool_call", tool_call=call)
