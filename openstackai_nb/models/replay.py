"""Record model exchanges to a cassette and replay them offline (placeholder; issue 6 fills it in)."""

from __future__ import annotations

from openstackai_nb.models.base import Model

__all__ = ["recording_wrapper"]


def recording_wrapper(model: Model) -> Model:
    """Return `model`, wrapped so its exchanges are recorded when recording is on."""
    return model
