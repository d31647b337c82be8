"""The real-model tier: one llama-server (SmolLM2-135M, 4 slots) for the whole session.

When the binary or the model is missing, CI (`CI=true`) fails loudly and a developer's run skips
with a reason saying how to build them (`bash scripts/test.sh` builds them unless
OPENSTACKAI_NB_SKIP_LOCAL_MODEL=1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.local_model._llama import LlamaServer, missing_reason


def require_local_model() -> None:
    """Fail (CI) or skip (elsewhere) when llama-server or the model is not built."""
    reason = missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"the local-model tier cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LlamaServer]:
    """llama-server on a free loopback port: `-np 4 -c 2048 --jinja`, stopped at the end."""
    require_local_model()
    server = LlamaServer.start(slots=4, ctx_size=2048)
    yield server
    server.stop()


@pytest.fixture
def llamacpp(llama_server: LlamaServer, monkeypatch: pytest.MonkeyPatch) -> LlamaServer:
    """The session's server behind the `llamacpp:` preset (LLAMACPP_BASE_URL points at it)."""
    monkeypatch.setenv("LLAMACPP_BASE_URL", llama_server.url)
    return llama_server
