"""`CassetteObserver`: a run's model exchanges go to the cassette being recorded, if any.

One of the default observers (`observers.DEFAULT_OBSERVERS`). The cassettes themselves are in
`models/recording.py` (`start_recording`, `recording`, `RecordingModel`); this observer lives in
the runner because the models speak only the vocabulary and never know the runner's observers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openstackai_nb.runner.observers import RunObserver

if TYPE_CHECKING:
    from openstackai_nb.models.base import Model
    from openstackai_nb.results import RunResult

__all__ = ["CassetteObserver"]


class CassetteObserver(RunObserver):
    """Wraps a run's model in a `RecordingModel` when a cassette is recording for that run.

    Which cassette: the one of the `with recording(path):` block the run was started in (a
    ContextVar: runs started elsewhere meanwhile are not recorded), else the session's
    (`start_recording`, `%agent record`), else ``OPENSTACKAI_NB_RECORD``.
    """

    def wrap_model(self, run: RunResult, model: Model) -> Model:
        """The run's model, recording to the cassette in force (unchanged when there is none)."""
        from openstackai_nb.models.recording import recording_wrapper

        return recording_wrapper(model)
