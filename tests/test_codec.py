"""Values across the wire: every literal type, both directions, and clear failures."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from belayfw import Device, SerializationError, codec

LITERALS = [
    None,
    True,
    False,
    0,
    -7,
    2**100,
    1.5,
    -0.25,
    "",
    "text with 'quotes' and \"doubles\"",
    "unicode: é ü € 你好",
    "control \x00\x01\x02\x03\x04 chars",
    b"",
    b"\x00\x01\xff'\"",
    bytearray(b"mutable"),
    [],
    [1, [2, [3, []]]],
    (),
    (1,),
    (1, "a", None),
    {},
    {"a": 1, 2: "b", (3, 4): [5]},
    set(),
    {1, 2, 3},
    frozenset({"x"}),
    {"nested": [{"deep": (b"bytes", {1.0})}]},
]


@pytest.mark.parametrize("value", LITERALS, ids=repr)
def test_value_round_trips_through_the_board(board: Device, value) -> None:
    board.exec(f"held = {codec.encode(value)}")
    assert board.eval("held") == value
    assert type(board.eval("held")) is type(value)


def test_special_floats(board: Device) -> None:
    assert board.eval("float('inf')") == math.inf
    assert board.eval("-float('inf')") == -math.inf
    assert math.isnan(board.eval("float('nan')"))
    board.exec(f"x = {codec.encode([math.inf, -math.inf])}")
    assert board.eval("x") == [math.inf, -math.inf]


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_like)
def test_any_literal_tree_round_trips(board: Device, value) -> None:
    board.exec(f"held = {codec.encode(value)}")
    assert board.eval("held") == value


def test_unsupported_argument_fails_before_anything_is_sent(board: Device) -> None:
    before = board.link_stats.bytes_sent
    with pytest.raises(SerializationError, match=r"value\[1\]\['k'\] has type object"):
        codec.encode([1, {"k": object()}])
    with pytest.raises(SerializationError, match="has type complex"):
        codec.encode(1j)
    assert board.link_stats.bytes_sent == before


def test_non_literal_result_names_the_board_repr(board: Device) -> None:
    board.exec("class Sensor:\n    pass\n")
    with pytest.raises(SerializationError, match="<Sensor object at"):
        board.eval("Sensor()")
    assert board.eval("1") == 1


def test_decoder_never_evaluates_code() -> None:
    for hostile in ["__import__('os').system('true')", "open('x')", "(lambda: 1)()", "a.b"]:
        with pytest.raises(SerializationError):
            codec.decode_repr(hostile)


def test_json_fast_path_agrees_with_literal_reader() -> None:
    for text in ['[1, 2.5, "a\'b"]', '{"k": [1, -2]}', "-3", '"x"', "1e+20"]:
        import ast

        assert codec.decode_repr(text) == ast.literal_eval(text)
    assert codec.decode_repr("[True, None]") == [True, None]


def test_encode_call_rejects_bad_keywords() -> None:
    assert codec.encode_call("f", (1, "a"), {"b": None}) == "f(1,'a          '[:1],b=None)"
    with pytest.raises(SerializationError, match="not a valid identifier"):
        codec.encode_call("f", (), {"not valid": 1})
