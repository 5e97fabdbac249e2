"""interconnect/schema.py: msgspec's verdict, with every problem named at its path in a config reader's words."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interconnect.schema import Invalid, convert, pattern


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Leaf(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    word: Annotated[str, pattern(r"\A[a-z]+\Z", "lower-case letters")]
    colour: Colour = Colour.RED
    max_items: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        if self.word == "forbidden":
            raise ValueError("the word 'forbidden' is reserved")


class Doc(msgspec.Struct, forbid_unknown_fields=True):
    leaves: Annotated[list[Leaf], msgspec.Meta(min_length=1)]
    by_name: dict[Annotated[str, msgspec.Meta(min_length=1)], Leaf] | None = None
    kind: Literal["a", "b"] = "a"


def problems(raw: Any, where: str = "") -> list[str]:
    with pytest.raises(Invalid) as err:
        convert(raw, Doc, where)
    return err.value.problems


def test_a_valid_document_converts() -> None:
    doc = convert({"leaves": [{"word": "ok", "colour": "blue", "maxItems": 3}], "by_name": None}, Doc)
    assert doc.leaves[0].colour is Colour.BLUE and doc.leaves[0].max_items == 3


def test_every_problem_is_named_at_its_path() -> None:
    raw = {
        "leaves": [{"word": "ok"}, {"word": "Bad", "colour": "green", "extra": 1}, 5],
        "by_name": {"n1": {"word": "x", "maxItems": -1}, "": {}},
        "kind": "c",
    }
    assert problems(raw) == [
        "leaves[1].extra: unknown field (allowed: colour, maxItems, word)",
        "leaves[1].word: expected lower-case letters, not 'Bad'",
        "leaves[1].colour: expected one of red, blue, not 'green'",
        "leaves[2]: expected an object, got an integer",
        "by_name.n1.maxItems: expected an integer >= 0",
        "by_name.: expected a non-empty string",
        "by_name..word: required",
        "kind: expected one of a, b, not 'c'",
    ]


def test_the_document_itself_and_a_check_after_conversion_are_named_too() -> None:
    assert problems([]) == ["expected an object, got a list"]
    assert problems({"leaves": []}, "SETTING") == ["SETTING.leaves: expected a non-empty list"]
    assert problems({"leaves": [{"word": "forbidden"}]}) == ["leaves[0]: the word 'forbidden' is reserved"]
    assert problems({}, "SETTING") == ["SETTING.leaves: required"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["ok", "Bad", "red", "a", ""]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["leaves", "by_name", "kind", "word", "colour", "maxItems", "", "x"]), inner, max_size=4
        )
    ),
    max_leaves=14,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_convert_agrees_with_msgspec_and_names_at_least_one_problem_when_it_refuses(raw: Any) -> None:
    try:
        expected: Doc | None = msgspec.convert(raw, Doc)
    except msgspec.ValidationError:
        expected = None
    try:
        assert convert(raw, Doc) == expected
    except Invalid as exc:
        assert expected is None and exc.problems and all(isinstance(p, str) and p for p in exc.problems)
