"""The SSE reader's cost: one giant line, and an ordinary stream of small events.

Issue 26: a server that sends 100 MB without a newline made the reader re-join its whole buffer on
every chunk (quadratic: 40 MB took 15 s of CPU). This script feeds `models/_sse.py`'s parser
directly, in this process (the parser is pure; no server):

- one `data:` line of 1, 10 and 40 MB in 64 KB chunks (the cap raised above it), CPU ms per MB:
  a linear reader costs the same per MB at every size;
- 20,000 ordinary events (a chat-completion chunk each) cut into one event per chunk, 1,400-byte
  and 16 KB chunks: µs per event, the cost every streamed answer pays.

A line is parsed once per size (cold, as a stream meets it: a repeat would find its memory
already mapped and look cheaper at 10 MB than at 40); the small events take the best CPU time
of several repeats (the machine is shared). `--module PATH`
loads another `_sse.py` (main's before a change: `git show main:openstackai_nb/models/_sse.py >
/tmp/old_sse.py`), so before/after come from one command:

    .venv/bin/python benchmarks/bench_sse_lines.py [--quick] [--module /tmp/old_sse.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1024 * 1024


def load(path: str | None) -> ModuleType:
    if path is None:
        from openstackai_nb.models import _sse

        return _sse
    spec = importlib.util.spec_from_file_location("bench_sse_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def parser(sse: ModuleType) -> Any:
    try:
        return sse.SSEParser(max_line=64 * MB)
    except TypeError:  # a reader without a cap
        return sse.SSEParser()


def line_ms_per_mb(sse: ModuleType, mb: int, repeats: int) -> float:
    block = b"x" * (64 * 1024)
    best = float("inf")
    for _ in range(repeats):
        p = parser(sse)
        started = time.process_time()
        p.feed(b"data: ")
        for _ in range(mb * 16):
            p.feed(block)
        events = p.feed(b"\n\n")
        best = min(best, time.process_time() - started)
        assert len(events) == 1 and len(events[0].data) == mb * MB
    return best / mb * 1000


def event_us(sse: ModuleType, chunk: int | None, repeats: int) -> float:
    chunk_json = {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "word "}}],
    }
    event = b"data: " + json.dumps(chunk_json, separators=(",", ":")).encode() + b"\n\n"
    body = event * 20_000
    size = chunk or len(event)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    best = float("inf")
    for _ in range(repeats):
        p = sse.SSEParser()
        started = time.process_time()
        n = sum(len(p.feed(piece)) for piece in pieces)
        best = min(best, time.process_time() - started)
        assert n == 20_000
    return best / 20_000 * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 and 10 MB only, fewer repeats")
    ap.add_argument("--module", help="another _sse.py to time (e.g. main's before a change)")
    args = ap.parse_args()
    sse = load(args.module)
    repeats = 2 if args.quick else 3
    print(f"reader: {args.module or 'openstackai_nb/models/_sse.py'}")
    for mb in (1, 10) if args.quick else (1, 10, 40):
        print(f"one {mb:>2} MB line, 64 KB chunks: {line_ms_per_mb(sse, mb, 1):8.2f} ms CPU per MB")
    for label, chunk in (("one event per chunk", None), ("1,400-byte chunks", 1400), ("16 KB chunks", 16384)):
        print(f"20,000 small events, {label:<19}: {event_us(sse, chunk, repeats * 2):6.2f} µs CPU per event")


if __name__ == "__main__":
    main()
