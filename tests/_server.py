"""A real OpenAI-compatible chat-completions server on 127.0.0.1, scripted per test.

Written here (not mocked): a minimal HTTP/1.1 server on asyncio streams with keep-alive and
chunked transfer encoding. Each request takes the next scripted `Reply` (FIFO), or, when none is
queued, asks `server.handler(request)`. Every request is recorded in `server.requests`.

Also runs standalone for benchmarks, in its own process:
    python -m tests._server --port 0 --mode tool2   (prints the URL, serves until killed)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

End = Literal["normal", "drop", "stall", "eof"]


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None  # a whole body (JSON answers, errors)
    chunks: list[bytes] | None = None  # SSE chunks, written one by one
    delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds between chunks
    end: End = "normal"  # drop: close the socket mid-stream; stall: stop sending, keep it open
    end_after: int | None = None  # with drop/stall: after this many chunks


@dataclass
class Request:
    """What the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "test-model") -> bytes:
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _usage_chunk(prompt: int, completion: int) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    payload = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "choices": [], "usage": usage}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"content-type": "text/event-stream"}


def text_stream(
    text: str,
    *,
    pieces: list[str] | None = None,
    usage: tuple[int, int] | None = (10, 5),
    finish: bool = True,
    done: bool = True,
    chunk_delay: float = 0.0,
) -> Reply:
    """An SSE answer streaming `text` word by word (or the given pieces)."""
    if pieces is None:
        words = text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    chunks = [_chunk({"role": "assistant", "content": ""})]
    chunks += [_chunk({"content": p}) for p in pieces if p]
    if finish:
        chunks.append(_chunk({}, "stop"))
    if usage:
        chunks.append(_usage_chunk(*usage))
    if done:
        chunks.append(DONE)
    return Reply(headers=dict(SSE_HEADERS), chunks=chunks, chunk_delay=chunk_delay)


def tool_stream(calls: list[tuple[str, str, dict[str, Any] | str]], *, split: int = 3, text: str = "") -> Reply:
    """An SSE answer calling tools; each call's arguments JSON is split into `split` deltas."""
    chunks = [_chunk({"role": "assistant", "content": text or None})]
    for index, (call_id, name, args) in enumerate(calls):
        raw = args if isinstance(args, str) else json.dumps(args)
        chunks.append(_chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                              "function": {"name": name, "arguments": ""}}]}))  # fmt: skip
        step = max(1, -(-len(raw) // split))
        for i in range(0, len(raw), step):
            chunks.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": raw[i : i + step]}}]}))
    chunks += [_chunk({}, "tool_calls"), _usage_chunk(20, 10), DONE]
    return Reply(headers=dict(SSE_HEADERS), chunks=chunks)


def json_reply(text: str | None = None, tool_calls: list[tuple[str, str, dict[str, Any]]] | None = None) -> Reply:
    """A non-streamed chat completion."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in tool_calls
        ]
    body = {"id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}}  # fmt: skip
    return Reply(headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def error(status: int, message: str = "error", *, retry_after: str | None = None) -> Reply:
    """An error answer in the OpenAI error shape."""
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body = json.dumps({"error": {"message": message, "type": "test_error"}}).encode()
    return Reply(status=status, headers=headers, body=body)


def sse(*events: dict[str, Any] | str | bytes, headers: dict[str, str] | None = None) -> Reply:
    """An SSE answer from a transcript: a dict is one `data:` event, a str or bytes goes out as written."""
    chunks = []
    for event in events:
        if isinstance(event, dict):
            chunks.append(b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n")
        else:
            chunks.append(event.encode() if isinstance(event, str) else event)
    return Reply(headers=dict(headers or SSE_HEADERS), chunks=chunks)


def resplit(reply: Reply, *, crlf: bool = False, start: int = 0) -> Reply:
    """The same answer with its bytes re-cut into HTTP chunks of 1 to 7 bytes (and CRLF line ends).

    Each HTTP chunk reaches the client as its own read, so the SSE parser sees events, lines and
    UTF-8 characters split everywhere. A `drop`/`stall` after `end_after` chunks keeps its place:
    it happens after the same bytes.
    """
    chunks = reply.chunks or []
    body = b"".join(chunks if reply.end_after is None else chunks[: reply.end_after])
    if crlf:
        body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    pieces: list[bytes] = []
    sizes = itertools.cycle([3, 1, 7, 2, 5, 4, 6][start % 7 :] + [3, 1, 7, 2, 5, 4, 6][: start % 7])
    i = 0
    while i < len(body):
        size = next(sizes)
        pieces.append(body[i : i + size])
        i += size
    return dataclasses.replace(reply, chunks=pieces, end_after=None if reply.end_after is None else len(pieces))


@contextmanager
def refusing_url() -> Iterator[str]:
    """A base URL on 127.0.0.1 that refuses every connection while the block runs.

    Its port is bound here and never listened on, so nothing else can take it and the kernel
    refuses at once (a fixed port such as 9 may be served or filtered on a CI machine).
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}/v1"


def default_handler(request: Request) -> Reply:
    """Without a script: tool calls for every offered tool on the first turn, then text."""
    messages = request.messages
    tools = request.body.get("tools") or []
    answered = bool(messages) and messages[-1].get("role") == "tool"
    stream = bool(request.body.get("stream"))
    if tools and not answered:
        calls = [(f"call_{i}", t["function"]["name"], {}) for i, t in enumerate(tools[:1])]
        return tool_stream(calls) if stream else json_reply(tool_calls=calls)
    text = "The answer is 42." if not answered else f"Tool said: {messages[-1].get('content')}"
    return text_stream(text) if stream else json_reply(text)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip


class OpenAIServer:
    """The server, running its own event loop on a background thread."""

    def __init__(self, handler: Callable[[Request], Reply] = default_handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._script: collections.deque[Reply] = collections.deque()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True, name="openai-test-server")
        self._thread.start()
        started.wait(10)

    @property
    def url(self) -> str:
        """The base URL (`.../v1`) to give a client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one."""
        self._script.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests; restore the default handler."""
        self._script.clear()
        self.requests.clear()
        self.handler = default_handler

    def close(self) -> None:
        """Stop serving and close every connection."""

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()  # an unclosed loop's __del__ warns (ResourceWarning) in a later test

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=2048)
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                request = Request(method, path, headers, body)
                self.requests.append(request)
                if not path.partition("?")[0].endswith("/chat/completions"):
                    reply = error(404, f"no route {path}")
                else:
                    reply = self._script.popleft() if self._script else self.handler(request)
                if not await self._write(writer, reply):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> bool:
        """Write one reply; False when the connection must close."""
        if reply.delay:
            await asyncio.sleep(reply.delay)
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
        headers = dict(reply.headers)
        if reply.chunks is not None:
            headers["transfer-encoding"] = "chunked"
        else:
            headers["content-length"] = str(len(reply.body or b""))
        head += [f"{k}: {v}" for k, v in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if reply.chunks is None:
            writer.write(reply.body or b"")
            await writer.drain()
            return True
        for i, chunk in enumerate(reply.chunks):
            if reply.end_after is not None and i >= reply.end_after:
                break
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if reply.chunk_delay or i % 64 == 0:
                await writer.drain()
        await writer.drain()
        if reply.end == "drop":
            writer.transport.abort()
            return False
        if reply.end == "stall":
            await asyncio.sleep(3600)
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return reply.end != "eof"


def _bench_handler(mode: str, words: int, latency: float) -> Callable[[Request], Reply]:
    cached: dict[str, Reply] = {}

    def handler(request: Request) -> Reply:
        stream = bool(request.body.get("stream"))
        messages = request.messages
        answered = bool(messages) and messages[-1].get("role") == "tool"
        if mode == "tool2" and request.body.get("tools") and not answered:
            key = f"tool-{stream}"
            if key not in cached:
                cached[key] = (
                    tool_stream([("call_1", "lookup", {"key": "x"})])
                    if stream
                    else json_reply(tool_calls=[("call_1", "lookup", {"key": "x"})])
                )
        else:
            key = f"text-{stream}"
            if key not in cached:
                text = " ".join(["token"] * words)
                cached[key] = text_stream(text) if stream else json_reply(text)
        reply = cached[key]
        if latency:
            return Reply(**{**reply.__dict__, "delay": latency})
        return reply

    return handler


def main() -> None:
    """Serve for a benchmark until killed (prints the base URL on stdout)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="text", choices=["text", "tool2"])
    parser.add_argument("--words", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = OpenAIServer(_bench_handler(args.mode, args.words, args.latency))
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
