"""Re-execute every notebook in notebooks/ in place, offline, and save it with its outputs.

Run after a change that alters what the notebooks show (render.py, the scripted model...):
    .venv/bin/python scripts/refresh_notebooks.py [notebooks/NAME.ipynb ...]
The kernel gets no OPENAI_* variables, so every notebook uses its offline model.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def main(paths: list[str]) -> None:
    """Execute the given notebooks (default: all of notebooks/) and write them back."""
    for key in [k for k in os.environ if k.startswith(("OPENAI_", "OPENSTACKAI_NB_"))]:
        del os.environ[key]
    targets = [Path(p).resolve() for p in paths] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in targets:
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("widgets", None)  # the live views are gone once a run ends: keep no widget state
        client = NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            store_widget_state=False,
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        nbformat.write(nb, path)
        print(f"executed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
