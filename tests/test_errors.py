"""Every error is a BelayError, keeps the builtin base users expect, and says what to do."""

from __future__ import annotations

import math

import pytest

from belayfw import (
    ArgumentTypeError,
    BelayError,
    BoardFileNotFound,
    ConfigurationError,
    Device,
    DeviceDisconnected,
    DeviceNotOpen,
    ProtocolError,
    SessionLimits,
    SessionManager,
    SessionOptions,
    TaskTimeout,
    setup,
    task,
)
from belayfw.connection import Connection
from belayfw.errors import did_you_mean
from belayfw.output import BoardFrames
from belayfw.response import Response


class Echo(Device):
    @task
    def echo(self, value: object) -> object:
        return value


def test_builtin_bases_are_kept() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ArgumentTypeError, TypeError)
    assert issubclass(TaskTimeout, TimeoutError)
    assert issubclass(DeviceDisconnected, ConnectionError)
    assert issubclass(BoardFileNotFound, FileNotFoundError)
    for error in (ConfigurationError, TaskTimeout, DeviceDisconnected, BoardFileNotFound):
        assert issubclass(error, BelayError)


def test_a_timeout_on_the_board_is_a_timeout_error(board: Device) -> None:
    with pytest.raises(TimeoutError):
        board.exec("while True: pass", timeout=0.5)
    assert board.eval("1 + 1") == 2


@pytest.mark.parametrize(
    ("port", "error", "words"),
    [
        ("emulator:pcio", ConfigurationError, "did you mean 'pico'"),
        ("emulatr", ConfigurationError, "did you mean 'emulator'"),
        ("sockt://localhost:7000", ConfigurationError, "did you mean 'socket'"),
        ("socket://", ConfigurationError, "needs a host and a TCP port"),
        ("rfc2217://onlyhost", ConfigurationError, "needs a host and a TCP port"),
        ("socket://[::1", ConfigurationError, "needs a host and a TCP port"),
        ("rfc2217://[::1:7000", ConfigurationError, "needs a host and a TCP port"),
        ("/dev/belayfw-no-such-port", FileNotFoundError, "does not exist"),
        (3, ArgumentTypeError, "port must be a string"),
    ],
)
def test_bad_ports_fail_at_once_in_belayfw_words(port: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as caught:
        Device(port)  # type: ignore[arg-type]
    assert isinstance(caught.value, BelayError)
    text = str(caught.value)
    assert "Errno" not in text and "not supported between" not in text


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Device("emulator", manager=3), "manager must be a SessionManager"),
        (lambda: Device("emulator", transport="emulator"), "transport must be a Transport"),
        (lambda: Device(transport=3), "transport must be a Transport"),
        (lambda: Device("emulator", output="stdout"), "output must be a function"),
        (lambda: SessionManager(3), "options must be SessionOptions"),
    ],
)
def test_objects_of_the_wrong_kind_are_refused_before_opening(make: object, words: str) -> None:
    with pytest.raises(ArgumentTypeError, match=words):
        make()  # type: ignore[operator]


def test_a_typo_in_a_decorator_option_suggests_the_right_name() -> None:
    with pytest.raises(
        ConfigurationError, match=r"unknown option 'timout' \(did you mean 'timeout'\?\)"
    ) as caught:
        task(timout=5)
    assert "errors.pydantic.dev" not in str(caught.value)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: task(timeout=0), "timeout=0"),
        (lambda: task(timeout=math.nan), "timeout=nan"),
        (lambda: task(ttl=5), "add cache=True"),
        (lambda: SessionOptions(max_evnts=3), "did you mean 'max_events'"),
        (lambda: SessionLimits(max_threads=-1), "max_threads=-1"),
        (lambda: SessionManager(max_concurrent_sessions="many"), "max_concurrent_sessions"),
        (lambda: Device("emulator", timeout=-1, open=False), "timeout=-1"),
        (lambda: Device("emulator", setup_timeout=math.nan, open=False), "setup_timeout=nan"),
    ],
)
def test_nonsense_options_are_refused_at_once(make: object, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        make()  # type: ignore[operator]


def test_nonsense_call_timeouts_are_refused_before_anything_is_sent(board: Device) -> None:
    sent = board.link_stats.bytes_sent
    for timeout in (0, -1, math.nan):
        with pytest.raises(ConfigurationError, match="is not a timeout"):
            board.eval("1", timeout=timeout)
    assert board.link_stats.bytes_sent == sent
    assert board.eval("2", timeout=5) == 2


@pytest.mark.parametrize(
    ("call", "code", "error", "words"),
    [
        ("eval", None, ArgumentTypeError, "takes board source as str, not NoneType"),
        ("eval", b"1", ArgumentTypeError, "decode it first"),
        ("exec", 3, ArgumentTypeError, "takes board source as str, not int"),
        ("exec", bytearray(b"x = 1"), ArgumentTypeError, "decode it first"),
        ("eval", "  ", ConfigurationError, "needs an expression"),
    ],
)
def test_code_that_is_not_source_text_is_refused_before_anything_is_sent(
    board: Device, call: str, code: object, error: type, words: str
) -> None:
    sent = board.link_stats.bytes_sent
    with pytest.raises(error, match=words):
        getattr(board, call)(code)
    assert board.link_stats.bytes_sent == sent
    assert board.eval("2") == 2


def test_autoinit_setup_with_required_parameters_fails_at_class_definition() -> None:
    with pytest.raises(ConfigurationError, match="requires pin"):

        class Board(Device):
            @setup
            def configure(self, pin):
                led = pin

    class Fine(Device):  # with a default, or not autoinit, it is accepted
        @setup
        def configure(self, pin=2):
            led = pin

        @setup(autoinit=False)
        def later(self, pin):
            led = pin


def test_big_int_argument_round_trips() -> None:
    big = 7**6000  # over 5,000 decimal digits
    with Echo("emulator") as device:
        assert device.echo(big) == big
        assert device.echo([-big, 1]) == [-big, 1]


def test_malformed_frames_are_protocol_errors() -> None:
    decode = Connection._decode
    link = object.__new__(Connection)
    for payload in (b"(1,)", b"12", b"{[1]}", b"not a literal"):
        with pytest.raises(ProtocolError, match="malformed frame"):
            decode(link, Response(result_tag="e", result=payload))


def test_malformed_thread_failure_frame_is_logged_not_raised(caplog) -> None:
    failures: list[tuple[object, ...]] = []

    class Threads:
        def thread_failed(self, *args: object) -> None:
            failures.append(args)

        def thread_emitted(self, thread_id: int, value: object) -> None:
            pass

        def thread_returned(self, thread_id: int, value: object) -> None:
            pass

    frames = BoardFrames(lambda text: None, Threads())
    frames("x", b"(1, 2)")
    frames("x", b"('id', 'E', 'm', 't')")
    frames("x", b"(7, 'ValueError', 'boom', '')")
    assert failures == [(7, "ValueError", "boom", "")]
    assert caplog.text.count("malformed thread failure report") == 2


def test_a_call_on_a_closed_device_does_not_blame_the_cable() -> None:
    device = Device("emulator", open=False)
    with pytest.raises(DeviceNotOpen, match="is not open") as caught:
        device.eval("1")
    assert "cable" not in str(caught.value)
    assert isinstance(caught.value, DeviceDisconnected)  # code catching the old type still works


def test_did_you_mean() -> None:
    assert did_you_mean("retires", ["retries", "timeout"]) == " (did you mean 'retries'?)"
    assert did_you_mean("zzz", ["retries", "timeout"]) == ""
