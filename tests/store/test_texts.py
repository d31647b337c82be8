"""store/_texts.py: a column of texts kept as UTF-8 bytes comes back exactly as it was put."""

from __future__ import annotations

from openstackai_nb.store._texts import Texts


def test_texts_come_back_in_row_order_whatever_order_they_were_put() -> None:
    texts = Texts(5)
    texts.put(3, "three")
    texts.put(0, "")
    texts.put(1, "naïve ☃ 🐍")
    values = texts.array()
    assert values.dtype == object
    assert values.tolist() == ["", "naïve ☃ 🐍", None, "three", None]
    assert [texts[i] for i in range(5)] == values.tolist()


def test_a_lone_surrogate_and_a_row_put_twice_keep_what_was_put_last() -> None:
    texts = Texts(2)
    texts.put(0, "first")
    texts.put(0, "a \ud800 b")  # a lone surrogate (json.loads makes them) survives the bytes
    texts.put(1, "x")
    texts.put(1, None)
    assert texts.array().tolist() == ["a \ud800 b", None]


def test_each_array_call_makes_new_strings() -> None:
    texts = Texts(1)
    texts.put(0, "the same text, made twice")
    first, second = texts.array()[0], texts.array()[0]
    assert first == second and first is not second


def test_texts_are_a_sequence_of_their_rows() -> None:
    texts = Texts(3)
    texts.put(1, "b")
    assert len(texts) == 3 and texts[1:] == ["b", None] and list(texts) == [None, "b", None]
