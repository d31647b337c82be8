"""The test suite's guard (`loopback_only`): loopback by address or by a name that resolves to it."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from openstackai_nb import Agent, Runner, RunStatus
from openstackai_nb.models.openai import OpenAIChatModel
from tests._server import OpenAIServer, text_stream


def _loopback_host_name() -> str:
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip(f"this machine's host name {name!r} does not resolve")
    if not all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos):
        pytest.skip(f"this machine's host name {name!r} does not resolve to loopback only")
    return name


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "host name"])
def test_loopback_hosts_pass_the_guard(openai_server: OpenAIServer, host: str) -> None:
    if host == "host name":
        host = _loopback_host_name()
    openai_server.script(text_stream("hello"))
    url = openai_server.url.replace("127.0.0.1", host)
    r = Runner.run_sync(Agent(name="G", model=OpenAIChatModel("m", base_url=url, api_key="k")), "Hi")
    assert r.status is RunStatus.COMPLETED and r.final_output == "hello", r.error


@pytest.mark.parametrize("host", ["10.11.12.13", "192.0.2.1", "name.invalid"])
def test_other_hosts_are_blocked_before_any_request(host: str) -> None:
    model = OpenAIChatModel("m", base_url=f"http://{host}:9/v1", api_key="k")
    r = Runner.run_sync(Agent(name="G", model=model), "Hi")
    assert r.status is RunStatus.FAILED
    assert f"request to {host!r} blocked" in (r.error or "")
