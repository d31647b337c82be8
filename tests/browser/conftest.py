"""Real JupyterLab and Notebook 7 servers on 127.0.0.1, driven by Debian's headless Chromium.

One server of each kind serves the whole session from a temporary root folder that holds copies
of the notebooks under test; kernels inherit the server's environment, which sets a visible
streaming rate for the offline scripted model (`OPENSTACKAI_NB_SCRIPTED_DELAY`). Chromium is
Debian's (`/usr/bin/chromium`), launched by Playwright for Python with `executable_path`: no
browser is ever downloaded. A missing browser is a setup error in CI, with the install command.

Every page records its JavaScript console errors and uncaught page errors; a test ends with
`page.errors.check()`, and the fixture's teardown checks again, so any error fails the test with its
message.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import _notebooks

CHROMIUM = os.environ.get("OPENSTACKAI_NB_TEST_CHROMIUM", "/usr/bin/chromium")
INSTALL_HINT = "install chromium: apt-get install chromium chromium-driver"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Flags known to work on this kind of machine (Playwright adds --headless and a new empty
--user-data-dir of its own); without the networking ones Chromium keeps trying closed hosts."""
SCRIPTED_DELAY = "0.05"
"""Seconds per streamed word of the scripted model: slow enough to watch a run stream."""
SERVER_START_TIMEOUT = 90.0
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
"""Screenshots go here (gitignored)."""

# JupyterLab/Notebook user settings for the tests: no news or update checks (no network), and
# every cell kept in the DOM (windowing off) so tests can find any cell's output.
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _ui_fail(message: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; a clear setup error in CI when it is missing (a skip elsewhere)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _ui_fail(f"browser tests need Chromium at {CHROMIUM}: {INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _ui_fail("browser tests need Playwright for Python: pip install -e '.[dev]' (no browser download needed)")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(home: Path) -> dict[str, str]:
    cleared = ("OPENAI_", "OLLAMA_", "OPENROUTER_", "OPENSTACKAI_NB_", "JUPYTER")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(cleared) and k.lower() not in proxies}
    venv_bin = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
            "OPENSTACKAI_NB_SCRIPTED_DELAY": SCRIPTED_DELAY,
            "OPENSTACKAI_NB_HISTORY": str(home / "history.sqlite"),
            # Isolated user folders; the venv's own share/jupyter (its python3 kernelspec, the
            # widget and anywidget lab extensions) is still found through sys.prefix.
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(home / "ipython"),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


@dataclass
class JupyterServer:
    """One running `jupyter lab` or `jupyter notebook` server."""

    kind: str
    """"lab" or "notebook"."""
    port: int
    token: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        """The URL that opens `notebook` (a path under the root) in this front end."""
        if self.kind == "lab":  # `reset`: a fresh workspace, not the tabs of an earlier test
            return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"
        return f"{self.base}/notebooks/{notebook}?token={self.token}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API with the token; return the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def shutdown_kernels(self) -> None:
        """Shut every running kernel down (as the Running panel's "Shut Down All" does)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def set_theme(self, name: str) -> None:
        """Use theme `name` ("JupyterLab Light", "JupyterLab Dark") in pages opened from now on.

        Both front ends read the user settings folder on each page load (`JUPYTERLAB_SETTINGS_DIR`).
        """
        target = self.root.parent / "settings" / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"theme": name}))

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _start_server(kind: str, home: Path) -> JupyterServer:
    root = home / "root"
    root.mkdir(parents=True)
    _notebooks.write_all(root)
    settings = home / "settings"
    for rel, value in _SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    port = _free_port()
    token = os.urandom(16).hex()
    log = home / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab" if kind == "lab" else "notebook",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",  # CI runs as root
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.terminals_enabled=False",
    ]
    if kind == "lab":  # no announcements or update checks: this machine has no network
        cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            env=_server_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kernels included, stopped together
        )
    server = JupyterServer(kind=kind, port=port, token=token, root=root, proc=proc, log=log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {kind} exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status", timeout=2.0)
            return server
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            _stop_server(server)
            raise RuntimeError(
                f"jupyter {kind} did not answer /api/status in {SERVER_START_TIMEOUT}s:\n{server.log_tail()}"
            )
        time.sleep(0.25)


def _stop_server(server: JupyterServer) -> None:
    proc = server.proc
    if proc.poll() is None:
        try:
            server.api("POST", "/api/shutdown", timeout=5.0)
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    # Whatever is left of this server's own process group (a kernel stuck in shutdown).
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)


@pytest.fixture(scope="session", params=["lab", "notebook"], ids=["jupyterlab", "notebook7"])
def jupyter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A real JupyterLab or Notebook 7 server for the session (tests run once per front end)."""
    request.getfixturevalue("chromium_path")  # no server without a browser to drive it
    home = tmp_path_factory.mktemp(f"jupyter-{request.param}")
    server = _start_server(request.param, home)
    yield server
    _stop_server(server)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download).

    Module scope, not session: Playwright's sync API keeps its own event loop marked running in
    the main thread while it is started, and the rest of the suite calls `asyncio.run()`.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS, timeout=60_000)
        yield b
        b.close()


# The one browser error that is not ours and cannot be configured away: Notebook 7.6's bundled
# shortcuts extension reacts to a settings plugin loaded after start-up by reading
# `registry.plugins["@jupyterlab/shortcuts-extension:shortcuts"].schema`, a plugin Notebook 7 does
# not load, on every notebook page load (with every third-party extension disabled too, and with
# no user settings). It is accepted only from Notebook 7's own bundle, with exactly this message.
_UPSTREAM_PAGE_ERRORS = (("notebook", "Cannot read properties of undefined (reading 'schema')", "/static/notebook/"),)


class BrowserErrors:
    """JavaScript console errors and uncaught page errors seen by one page."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.messages: list[str] = []
        self.upstream: list[str] = []

    def on_console(self, msg: Any) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
            self.messages.append(f"console.error: {msg.text}{where}")

    def on_pageerror(self, exc: Any) -> None:
        message, stack_text = str(getattr(exc, "message", "") or exc), str(getattr(exc, "stack", "") or "")
        frames = stack_text.splitlines()[1:2]
        for kind, text, where in _UPSTREAM_PAGE_ERRORS:
            if self.kind == kind and message == text and frames and where in frames[0]:
                self.upstream.append(message)
                return
        stack = "\n    ".join(str(getattr(exc, "stack", "") or "").splitlines()[1:6])
        self.messages.append(f"pageerror: {exc}" + (f"\n    {stack}" if stack else ""))

    def check(self) -> None:
        if self.messages:
            pytest.fail("JavaScript errors in the browser:\n" + "\n".join(self.messages), pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    # Keep each phase's report on the item so the page fixture knows when a test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, jupyter: JupyterServer) -> Iterator[Any]:
    """A fresh browser context and page; `page.errors.check()` fails on any JavaScript error.

    When the test fails, a screenshot of the whole page goes to test-results/ beside the others.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    context.set_default_timeout(30_000)
    # A page hook for the escaping test: any script that a model answer manages to run bumps it.
    context.add_init_script("window.__xss = 0;")
    pg = context.new_page()
    errors = BrowserErrors(jupyter.kind)
    pg.on("console", errors.on_console)
    pg.on("pageerror", errors.on_pageerror)
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        RESULTS.mkdir(exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)
        try:
            pg.screenshot(path=str(RESULTS / f"failed-{name}.png"))
        except Exception:  # noqa: BLE001 - a picture is a bonus; never hide the real failure
            pass
    try:
        # Kernels of this test go away so the next test starts from a quiet server.
        jupyter.shutdown_kernels()
    finally:
        context.close()
    errors.check()


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """test-results/: screenshots written by the browser tests (gitignored)."""
    RESULTS.mkdir(exist_ok=True)
    return RESULTS
