"""A real llama.cpp `llama-server` process serving SmolLM2-135M, for the tests and the benchmarks.

The binary and the model come from `scripts/llama_server.sh` (built once per machine into
~/.cache/openstackai-nb/, or under $XDG_CACHE_HOME); nothing is downloaded here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "llama_server.sh"
HOW_TO_BUILD = "build it once with `bash scripts/llama_server.sh` (about 7 minutes on 2 idle cores)"


def local_model_paths() -> tuple[Path, Path]:
    """Where llama-server and the SmolLM2 GGUF are (whether or not they exist yet)."""
    out = subprocess.run(["bash", str(SCRIPT), "--paths"], capture_output=True, text=True, check=True).stdout
    binary, gguf = out.split()
    return Path(binary), Path(gguf)


def missing_reason() -> str | None:
    """Why the local model cannot run here (a sentence saying how to fix it), or None."""
    binary, gguf = local_model_paths()
    if not os.access(binary, os.X_OK):
        return f"llama-server not found at {binary}: {HOW_TO_BUILD}"
    if not gguf.is_file():
        return f"the SmolLM2 model is not at {gguf}: {HOW_TO_BUILD}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LlamaServer:
    """One llama-server process on 127.0.0.1 (its log in a temporary file)."""

    proc: subprocess.Popen[bytes]
    port: int
    slots: int
    ctx_size: int
    log_path: Path
    argv: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (what LLAMACPP_BASE_URL takes)."""
        return f"{self.root}/v1"

    @classmethod
    def start(
        cls, *, slots: int = 4, ctx_size: int = 2048, extra: Sequence[str] = (), timeout: float = 90.0
    ) -> LlamaServer:
        """Start llama-server on a free port and wait until /health says the model is loaded."""
        binary, gguf = local_model_paths()
        port = free_port()
        argv = [
            str(binary),
            *("-m", str(gguf), "--host", "127.0.0.1", "--port", str(port)),
            *("-np", str(slots), "-c", str(ctx_size), "-t", "2", "--jinja"),
            *("--seed", "42", "--no-warmup"),
            *extra,
        ]
        log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        server = cls(proc, port, slots, ctx_size, Path(log.name), argv)
        try:
            server.wait_healthy(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.root}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"llama-server not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def get_json(self, path: str) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.root}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: the server dies mid-answer, as a crashed or OOM-killed server does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log_path.unlink(missing_ok=True)
