"""The IPython / ipykernel internals `notebook/_ipython_internals.py` relies on: these fail loudly when they change.

Each failure names what to re-read. None of them skips: a new IPython or ipykernel that moved
one of these is exactly what they are here to catch. The first tests read the installed
packages; the last ones ask a real kernel.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from openstackai_nb.notebook import _ipython_internals as internals
from openstackai_nb.notebook.approvals import await_agent_cells
from tests.notebook._kernel import Kernel, kernel_env


def _versions() -> str:
    from importlib.metadata import version

    return f"IPython {version('ipython')}, ipykernel {version('ipykernel')} (checked: {internals.CHECKED})"


def test_the_asyncio_runner_of_the_public_table_is_the_one_ipykernel_compares() -> None:
    # kernel_awaits_cells compares shell.loop_runner with loop_runner_map["asyncio"][0]; ipykernel
    # compares it with the _asyncio_runner it imports from IPython.core.interactiveshell.
    import ipykernel.ipkernel
    from IPython.core import interactiveshell

    _asyncio_runner = getattr(interactiveshell, "_asyncio_runner", None)
    assert _asyncio_runner is not None, (
        f"IPython.core.interactiveshell has no _asyncio_runner ({_versions()}): ipykernel cannot import it "
        "either; re-read ipykernel/ipkernel.py and update notebook/_ipython_internals.py"
    )
    runners = getattr(interactiveshell.InteractiveShell, "loop_runner_map", {})
    assert runners.get("asyncio", (None,))[0] is _asyncio_runner, (
        f"IPython's loop_runner_map['asyncio'] is no longer its _asyncio_runner ({_versions()}): "
        "re-read IPython/core/interactiveshell.py and update notebook/_ipython_internals.py"
    )
    assert getattr(ipykernel.ipkernel, "_asyncio_runner", None) is _asyncio_runner, (
        f"ipykernel no longer compares loop_runner with IPython's _asyncio_runner ({_versions()}): "
        "re-read ipykernel/ipkernel.py (IPythonKernel.do_execute) and update notebook/_ipython_internals.py"
    )


def test_ipykernel_still_awaits_a_cell_on_the_same_condition_and_swaps_sigint_meanwhile() -> None:
    from ipykernel.ipkernel import IPythonKernel

    execute = inspect.getsource(IPythonKernel.do_execute)
    for needle in ("shell.loop_runner is _asyncio_runner", "should_run_async(", "self._cancel_on_sigint"):
        assert needle in execute, (
            f"ipykernel's do_execute no longer has {needle!r} ({_versions()}): the condition under which "
            "it awaits a cell changed; re-read ipykernel/ipkernel.py and update notebook/_ipython_internals.py"
        )
    swap = inspect.getsource(IPythonKernel._cancel_on_sigint)  # pyright: ignore[reportPrivateUsage]
    assert "signal.signal(signal.SIGINT" in swap, (
        f"ipykernel's _cancel_on_sigint no longer sets a SIGINT handler ({_versions()}): "
        "re-read it and update notebook/_ipython_internals.interrupt_raises"
    )


def test_the_installed_ipykernel_takes_clicks_while_a_cell_awaits() -> None:
    assert internals.ipykernel_version() >= internals.MIN_IPYKERNEL, _versions()


def test_the_cleanup_stage_runs_before_ipython_reads_the_cell_magic() -> None:
    # The transformer reads `%%agent` itself: IPython's cleanup transformers must still see the raw cell.
    from IPython.core.inputtransformer2 import TransformerManager

    seen: list[str] = []
    manager = TransformerManager()
    manager.cleanup_transforms.append(lambda lines: seen.extend(lines) or lines)
    out = manager.transform_cell("%%agent --model m\nhi\n")
    assert seen[:1] == ["%%agent --model m\n"], f"cleanup transformers no longer see the raw cell ({_versions()})"
    # await_agent_cells splits the cell into line and body as IPython's own transform does:
    assert out == "get_ipython().run_cell_magic('agent', '--model m', 'hi\\n')\n"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    tmp = tmp_path_factory.mktemp("internals")
    k = Kernel(kernel_env(OPENSTACKAI_NB_HISTORY=str(tmp / "h.sqlite")), str(tmp))
    ex = k.execute(
        "%load_ext openstackai_nb\n"
        "import asyncio, signal\n"
        "from openstackai_nb.notebook import _ipython_internals as internals\n"
        "def handler():\n"
        "    h = signal.getsignal(signal.SIGINT)\n"
        "    return 'default' if h is signal.default_int_handler else getattr(h, '__module__', repr(h))\n"
    )
    assert ex.error is None, ex.error
    yield k
    k.close()


@pytest.mark.kernel
def test_in_a_kernel_an_awaiting_cell_runs_under_the_kernel_s_sigint_handler(kernel: Kernel) -> None:
    blocking = kernel.execute("print(handler())")
    assert blocking.stdout.strip() == "default", blocking.stdout
    awaiting = kernel.execute("await asyncio.sleep(0)\nprint(handler())")
    assert awaiting.stdout.strip() == "ipykernel.ipkernel", (
        f"an awaiting cell no longer runs under ipykernel's SIGINT handler ({awaiting.stdout.strip()}); "
        "re-read ipykernel/ipkernel.py (_cancel_on_sigint) and notebook/_ipython_internals.interrupt_raises"
    )
    inside = kernel.execute(
        "await asyncio.sleep(0)\nwith internals.interrupt_raises():\n    print(handler())\nprint(handler())"
    )
    assert inside.stdout.split() == ["default", "ipykernel.ipkernel"]


@pytest.mark.kernel
def test_in_a_kernel_agent_cells_await_only_under_the_asyncio_runner(kernel: Kernel) -> None:
    ex = kernel.execute(
        "import threading\n"
        "print(internals.kernel_awaits_cells(get_ipython()))\n"
        "print(get_ipython().transform_cell('%%agent --model m\\nhi\\n').startswith('await '))\n"
        "print(get_ipython().transform_cell('%%agent?\\n').startswith('await '))"
    )
    assert ex.stdout.split() == ["True", "True", "False"], ex.stdout
    # Under another runner ipykernel runs the cell through run_cell and blocks: no awaiting then.
    ex = kernel.execute(
        "ip = get_ipython()\n"
        "ip.loop_runner = lambda coro: ip.loop_runner_map['sync'][0](coro)  # another runner, autoawait kept\n"
        "print(ip.autoawait, internals.kernel_awaits_cells(ip))\n"
        "print(ip.transform_cell('%%agent --model m\\nhi\\n').startswith('await '))\n"
        "ip.loop_runner = 'asyncio'"
    )
    assert ex.error is None, ex.error
    assert ex.stdout.split() == ["True", "False", "False"], ex.stdout
    assert kernel.execute("print(internals.kernel_awaits_cells(get_ipython()))").stdout.strip() == "True"


def test_outside_a_kernel_nothing_awaits() -> None:
    assert not internals.kernel_awaits_cells(None)
    assert await_agent_cells(["%%agent --model m\n", "hi\n"]) == ["%%agent --model m\n", "hi\n"]


@pytest.mark.kernel
def test_in_a_kernel_an_awaited_agent_cell_expands_options_from_the_notebook_s_names(kernel: Kernel) -> None:
    # `awaited(line, cell)` calls run_cell_magic from the cell's own frame: `{line}` is the notebook's
    # variable, not the coroutine's parameter of the same name.
    ex = kernel.execute("line, cell = 'scripted', 'not the body'")
    assert ex.error is None, ex.error
    ex = kernel.execute("%%agent --model {line} -o expanded --quiet\nsay hi")
    assert ex.error is None, ex.error
    assert kernel.execute("print(expanded.model, expanded.input)").stdout.split() == ["scripted", "say", "hi"]
