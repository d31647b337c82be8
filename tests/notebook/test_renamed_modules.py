"""The notebook modules renamed for what they hold: the old paths still work, and warn with the new one."""

from __future__ import annotations

import importlib

import pytest

from openstackai_nb.notebook import driver, options, placeholders, provenance, settings_view, tables, usage_errors

MOVED = [
    ("prompt", "default_model", options),
    ("prompt", "OFFLINE_NOTE", options),
    ("prompt", "OVER_ACCEPTS", options),
    ("prompt", "VALUE_OPTIONS", options),
    ("prompt", "is_scalar", options),
    ("prompt", "over_items", options),
    ("prompt", "split_names", options),
    ("prompt", "unquote", options),
    ("prompt", "interpolate", placeholders),
    ("prompt", "summarise", placeholders),
    ("prompt", "SUMMARY_CHARS", placeholders),
    ("display", "LIMIT_OPTIONS", usage_errors),
    ("display", "as_usage_errors", usage_errors),
    ("display", "for_display", usage_errors),
    ("display", "in_magic_terms", usage_errors),
    ("display", "cassette_of", provenance),
    ("display", "provenance", provenance),
    ("display", "MarkdownText", settings_view),
    ("display", "settings_view", settings_view),
    ("display", "without_credentials", settings_view),
    ("display", "inert_frame", tables),
    ("display", "scrubbed_frame", tables),
    ("widgets", "drive", driver),
    ("widgets", "drive_async", driver),
    ("widgets", "FLUSH_HZ", driver),
    ("widgets", "MIN_DELTA_CHARS", driver),
    ("widgets", "MAX_DELTA_WAIT", driver),
    ("widgets", "POLL_S", driver),
    ("widgets", "SETTLE_WAIT", driver),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED, ids=[f"{o}.{n}" for o, n, _ in MOVED])
def test_an_old_path_gives_the_same_object_and_names_the_new_one(old: str, name: str, new: object) -> None:
    module = importlib.import_module(f"openstackai_nb.notebook.{old}")
    with pytest.warns(DeprecationWarning, match=rf"moved to {new.__name__}\.{name};") as caught:  # type: ignore[attr-defined]
        value = getattr(module, name)
    assert value is getattr(new, name)
    assert caught[0].filename == __file__  # reported at the caller's line, not inside the package


def test_from_import_of_an_old_path_warns_too() -> None:
    with pytest.warns(DeprecationWarning, match="openstackai_nb.notebook.placeholders.interpolate"):
        from openstackai_nb.notebook.prompt import interpolate  # noqa: PLC0415
    assert interpolate is placeholders.interpolate


@pytest.mark.parametrize("old", ["prompt", "display", "widgets"])
def test_an_unknown_name_is_still_an_attribute_error(old: str) -> None:
    module = importlib.import_module(f"openstackai_nb.notebook.{old}")
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        module.nothing  # noqa: B018


def test_the_widget_class_is_built_once() -> None:
    pytest.importorskip("anywidget")
    from openstackai_nb.notebook import widgets

    assert widgets.LiveView is widgets.LiveView
