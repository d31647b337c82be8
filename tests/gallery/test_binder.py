"""The Binder environment check: build a fresh venv from binder/ as repo2docker does, run every notebook.

repo2docker's Python build pack (BinderHub's builder) makes a venv with Python from
`binder/runtime.txt`, installs its base environment (Jupyter, ipykernel), then, because our
`binder/requirements.txt` refers to the repository itself ("."), runs
`pip install -r binder/requirements.txt` from the repository root once the whole repository is
in the image, and finally `binder/postBuild` if there is one. This test does the same in a
temporary folder (ipykernel, pytest and nbval stand in for the base environment), then runs
`pytest --nbval` over a copy of `notebooks/` with that venv's Python, so each kernel is a kernel
of that venv and `import openstackai_nb` finds the installed package, not the checkout.
It needs only the package index; it takes a couple of minutes (marked slow).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
# What Binder's base image already has that the check needs: a kernel, and the test runner.
BASE_ENVIRONMENT = ["ipykernel", "pytest", "nbval"]


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stdout[-6000:] + "\n" + proc.stderr[-4000:]).strip()
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    return proc


def test_binder_files_are_what_repo2docker_reads() -> None:
    requirements = (BINDER / "requirements.txt").read_text().splitlines()
    lines = [line.split("#", 1)[0].strip() for line in requirements]
    lines = [line for line in lines if line]
    # "." is a local reference, so repo2docker installs it from the root with the whole repository present.
    assert any(line.startswith(".[") and "notebook" in line and "pandas" in line for line in lines), lines
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert runtime.startswith("python-3.") and int(runtime.split(".")[1]) >= 11, runtime


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_fresh_binder_environment_runs_every_notebook(tmp_path: Path) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "notebooks/ holds no notebook"
    venv = tmp_path / "binder-venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENSTACKAI_NB_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"

    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, *BASE_ENVIRONMENT], cwd=tmp_path, env=env, timeout=900)
    # Exactly Binder's step: from the repository root, so "." in the file is this repository.
    run([*pip, "-r", "binder/requirements.txt"], cwd=ROOT, env=env, timeout=900)
    post_build = BINDER / "postBuild"
    if post_build.exists():
        run(["bash", str(post_build)], cwd=ROOT, env=env, timeout=600)

    # The package comes from the venv, not from the checkout.
    where = run([python, "-c", "import openstackai_nb, sys; print(openstackai_nb.__file__)"], cwd=tmp_path, env=env,
                timeout=120).stdout.strip()  # fmt: skip
    assert str(venv) in where and str(ROOT) not in where, where

    # Run a copy, so nothing the notebooks write (history, cassettes, reports) lands in the repository.
    work = tmp_path / "work"
    by_name = shutil.ignore_patterns(".openstackai_nb", ".ipynb_checkpoints", "*.html")

    def skip(folder: str, names: list[str]) -> set[str]:
        # Leftovers of local runs (a kernel's IPC socket, ...) are not part of the repository.
        special = {
            n for n in names if not (os.path.isfile(os.path.join(folder, n)) or os.path.isdir(os.path.join(folder, n)))
        }
        return set(by_name(folder, names)) | special

    shutil.copytree(ROOT / "notebooks", work / "notebooks", ignore=skip)
    (work / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    proc = run(
        [python, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", "notebooks/nbval-sanitize.cfg", "notebooks"],
        cwd=work, env=env, timeout=900,
    )  # fmt: skip
    summary = proc.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, proc.stdout[-3000:]
