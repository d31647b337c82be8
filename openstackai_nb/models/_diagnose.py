"""What local users hit, said plainly: servers that refuse tools, and prompts cut by a small context.

Tools the server was not started for (each error text as the servers write it):

- llama.cpp's `llama-server` without `--jinja` (before it became the default): HTTP 500
  `{"error": {"code": 500, "message": "tools param requires --jinja flag", "type": "server_error"}}`;
- vLLM without `--enable-auto-tool-choice`: HTTP 400 `"auto" tool choice requires
  --enable-auto-tool-choice and --tool-call-parser to be set` (vLLM's error object, old or new shape);
- Ollama with a model whose template has no tools: HTTP 400
  `registry.ollama.ai/library/gemma3:4b does not support tools`.

Each becomes one `ModelHTTPError` that names the flag to add (or the model to change), raised
at once: retrying cannot help, even on llama.cpp's 500.

A prompt cut to fit (Ollama's default `num_ctx` of 2048/4096 tokens keeps only the prompt's end,
and says so in its own log only): the server's `usage.prompt_tokens` counts what the model
read. `context_warning` compares it with a cheap estimate of what was sent (the request body's
characters / 4, `CHARS_PER_TOKEN`): for a request of at least `MIN_ESTIMATED_TOKENS` (2,000)
estimated tokens, a count under `CUT_RATIO` (50%) of the estimate is reported. The estimate counts
JSON punctuation and tool schemas too, which chat templates also turn into tokens; English prose
is about 4 characters a token, code about 3, CJK text about 1 (an under-estimate: no false
warning), so a prompt read whole stays well above half of it.
"""

from __future__ import annotations

from collections.abc import Iterable

from openstackai_nb._secrets import scrub
from openstackai_nb.errors import ModelHTTPError
from openstackai_nb.messages import ModelDelta
from openstackai_nb.models._openai_wire import error_detail

__all__ = [
    "CHARS_PER_TOKEN",
    "CUT_RATIO",
    "MIN_ESTIMATED_TOKENS",
    "context_checked",
    "context_warning",
    "http_error",
    "tool_advice",
]

CHARS_PER_TOKEN = 4
"""Characters per token in the estimate of a request's prompt tokens."""
MIN_ESTIMATED_TOKENS = 2000
"""Smaller requests are never warned about (a short prompt fits every context window)."""
CUT_RATIO = 0.5
"""A prompt is reported as cut when the server counted fewer than this share of the estimate."""

_TOOL_ADVICE = (
    (
        "requires --jinja",
        "llama.cpp's server needs --jinja for tool calls: restart llama-server with --jinja "
        "(and a chat template that supports tools), or give the agent no tools",
    ),
    (
        "--enable-auto-tool-choice",
        "vLLM needs tool calling switched on: restart it with --enable-auto-tool-choice and "
        "--tool-call-parser NAME (hermes for Qwen and Hermes models, llama3_json for Llama 3.x, "
        "mistral for Mistral), or give the agent no tools",
    ),
    (
        "does not support tools",
        "this model cannot call tools on Ollama (its template has no tool support): pick a model "
        "with tools (e.g. llama3.1, qwen2.5, mistral-nemo), or give the agent no tools",
    ),
)


def tool_advice(detail: str) -> str | None:
    """What to do about a server's error that says it was not started for tools; None for other errors."""
    for needle, advice in _TOOL_ADVICE:
        if needle in detail:
            return advice
    return None


def context_warning(sent_chars: int, reported: int, hint: str | None) -> str | None:
    """The warning for a prompt the server probably cut (see the module docs), or None.

    Args:
        sent_chars: the request body's length in characters.
        reported: the server's `usage.prompt_tokens` (0: not reported, never warned about).
        hint: how to raise this server's context window (the provider's `context_hint`).
    """
    estimate = sent_chars // CHARS_PER_TOKEN
    if reported <= 0 or estimate < MIN_ESTIMATED_TOKENS or reported >= estimate * CUT_RATIO:
        return None
    advice = hint or "raise the server's context window (its context length setting)"
    return (
        f"the prompt was probably cut: the server read {reported:,} prompt tokens of a request of about "
        f"{estimate:,} ({sent_chars:,} characters), so the model did not see all of it (most servers keep the "
        f"end and drop the start: the instructions first). {advice}"
    )


def context_checked(deltas: Iterable[ModelDelta], sent_chars: int, hint: str | None) -> list[ModelDelta]:
    """The end of an answer, with a "warning" delta after its usage when the prompt was probably cut.

    Applied by the provider to the deltas that come once the answer is whole, so the text deltas
    before them pass through no extra generator (one per streamed token saved).
    """
    out: list[ModelDelta] = []
    for delta in deltas:
        out.append(delta)
        if delta.kind == "usage" and delta.usage is not None:
            warning = context_warning(sent_chars, delta.usage.prompt_tokens, hint)
            if warning:
                out.append(ModelDelta("warning", text=warning))
    return out


_HINTS = {
    400: "the request was rejected: check the model name and the message/tool format",
    401: "the API key was refused: check {key_env} (or api_key=...)",
    403: "access denied: check the key's permissions for this model",
    404: "not found: check the base URL ({url_env}) and the model name",
    422: "the request was rejected: check the model name and parameters",
}


def http_error(
    status: int, body: str, content_type: str, *, url: str, model: str, key_env: str, url_env: str
) -> ModelHTTPError:
    """The error for a non-2xx answer: the server's message (scrubbed) and what to do about it.

    Args:
        status: the HTTP status.
        body: the answer's body.
        content_type: its content type (an HTML page is named by its title, never shown).
        url: the URL posted to.
        model: the model's name.
        key_env: where the key comes from (named for a 401).
        url_env: where the base URL comes from (named for a 404).
    """
    detail = error_detail(body, content_type)
    hint = tool_advice(body) or _HINTS.get(status, "").format(key_env=key_env, url_env=url_env)
    if not hint and status == 429:
        hint = "rate limited: slow down or raise your quota"
    if not hint and status >= 500:
        hint = "the server failed: try again later"
    msg = f"HTTP {status} from {url} for model {model!r}"
    if detail:
        msg += f": {detail}"
    if hint:
        msg += f" ({hint})"
    kept = detail if detail.startswith("an HTML page") else body[:500]
    return ModelHTTPError(scrub(msg), status_code=status, model=model, body=scrub(kept))
