"""Files out of run history: `RunHistory.export()` / `RunHistory.load()` write and read JSON lines.

One `RunResult.to_dict()` per line, secrets scrubbed, never pickle. (The history's DataFrames
are built in `store.frames`, the one home of runs as DataFrames.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from openstackai_nb.errors import HistoryError

if TYPE_CHECKING:
    from openstackai_nb.results import RunResult

__all__ = ["read_jsonl", "write_jsonl"]


def write_jsonl(runs: Iterable[RunResult], path: str | os.PathLike[str]) -> Path:
    """Write runs as JSON lines (one `to_dict()` per line, every string scrubbed of secrets).

    The file is written beside its final name and renamed into place, so a reader never sees a
    half-written export. A new file gets the user's usual mode (you chose where it goes, maybe
    to share it); a file replaced keeps its mode, so an export made private stays private.
    """
    from openstackai_nb._secrets import scrub_data

    target = Path(path).expanduser()
    tmp = target.with_name(target.name + ".part")
    try:
        mode = os.stat(target).st_mode & 0o777
    except OSError:
        mode = 0o666  # less the umask, as open() does
    tmp.unlink(missing_ok=True)  # a leftover keeps its own mode: start afresh
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(fd, "w", encoding="utf-8", newline="\n") as fh:
        for result in runs:
            fh.write(json.dumps(scrub_data(result.to_dict()), ensure_ascii=False, separators=(",", ":")))
            fh.write("\n")
    os.replace(tmp, target)
    return target


def read_jsonl(path: str | os.PathLike[str]) -> list[RunResult]:
    """Read the runs of a JSON lines export.

    Raises:
        HistoryError: a line is not a run (names the file and line).
    """
    from openstackai_nb.results import RunResult

    source = Path(path).expanduser()
    out: list[RunResult] = []
    try:
        fh = open(source, encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot read the run export {source}: {exc.strerror or exc}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(RunResult.from_dict(json.loads(line)))
            except Exception as exc:  # noqa: BLE001 - reported with the place it happened
                first = str(exc).splitlines()[0][:200]
                raise HistoryError(
                    f"{source}, line {number}: not a run exported by RunHistory.export ({type(exc).__name__}: {first})"
                ) from None
    return out
