"""`render/markdown_copy.py` is now `render/markdown_escape.py` (it escapes): the old path still works, and warns."""

from __future__ import annotations

import pytest

from openstackai_nb.render import markdown_copy, markdown_escape


@pytest.mark.parametrize("name", ["md_literal", "tokens_to_markdown"])
def test_the_old_path_gives_the_same_function_and_names_the_new_one(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"moved to openstackai_nb\.render\.markdown_escape\.{name};"):
        value = getattr(markdown_copy, name)
    assert value is getattr(markdown_escape, name)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        markdown_copy.nothing  # noqa: B018
