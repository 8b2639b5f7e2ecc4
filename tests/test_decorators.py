"""Decorators and the metaclass: forms, options, signatures, inheritance, source."""

from __future__ import annotations

import inspect
import pydoc

import pytest

from belayfw import Device, setup, task, teardown, thread
from belayfw.decorators import BoardMethod, Kind, TaskOptions, ThreadOptions


class Station(Device):
    @setup
    def init(pin=25):
        value = pin

    @task(cache=True, ttl=5.0)
    def status():
        """Report the board's status."""
        return {"ok": True}

    @task(timeout=30)
    def collect(samples, interval_ms=5):
        """Collect samples every ``interval_ms``."""
        return [samples, interval_ms]

    @thread
    def blink(self, period_ms):
        while True:
            pass

    @teardown(order=2, ignore_errors=True)
    def shutdown():
        pass


def test_both_forms_of_every_decorator() -> None:
    methods = Station.__board_methods__
    assert list(methods) == ["init", "status", "collect", "blink", "shutdown"]
    assert [method.kind for method in methods.values()] == [
        Kind.SETUP,
        Kind.TASK,
        Kind.TASK,
        Kind.THREAD,
        Kind.TEARDOWN,
    ]
    assert methods["status"].options == TaskOptions(cache=True, ttl=5.0)
    assert methods["blink"].options == ThreadOptions()
    assert methods["shutdown"].options.order == 2


@pytest.mark.parametrize(
    ("decorate", "field"),
    [
        (lambda: task(ttl=-1), "ttl"),
        (lambda: task(timeout=0), "timeout"),
        (lambda: task(retries=-1), "retries"),
        (lambda: task(cache="sometimes"), "cache"),
        (lambda: task(bogus=True), "bogus"),
        (lambda: thread(name=""), "name"),
        (lambda: setup(order="first"), "order"),
        (lambda: teardown(ignore_errors="maybe"), "ignore_errors"),
    ],
)
def test_invalid_options_fail_at_class_definition(decorate, field: str) -> None:
    with pytest.raises(ValueError, match=field):

        class Bad(Device):
            @decorate()
            def method():
                pass


def test_signatures_and_docstrings_are_the_users() -> None:
    assert str(inspect.signature(Station.collect)) == "(samples, interval_ms=5)"
    assert Station.collect.__doc__ == "Collect samples every ``interval_ms``."
    assert Station.collect.__name__ == "collect"
    device = Station("emulator", open=False)
    assert str(inspect.signature(device.collect)) == "(samples, interval_ms=5)"
    assert str(inspect.signature(device.blink)) == "(period_ms)"  # self is not the caller's
    assert "Collect samples every" in pydoc.render_doc(device.collect)
    assert isinstance(Station.__dict__["collect"], BoardMethod)


def test_class_attribute_is_not_callable_without_a_device() -> None:
    with pytest.raises(TypeError, match="call it on a device instance"):
        Station.status()


def test_inheritance_mixins_and_override_by_name() -> None:
    class Logging:  # a mixin that is not a Device
        @task
        def log_line(text):
            print(text)

    class Extended(Logging, Station):
        @task(timeout=5)
        def collect(samples):
            return [samples]

        def status(self):  # a plain host method hides the board task
            return "host"

    names = list(Extended.__board_methods__)
    assert names == ["init", "collect", "blink", "shutdown", "log_line"]
    assert Extended.__board_methods__["collect"].options == TaskOptions(timeout=5)
    assert "samples):" in Extended.__board_sources__["collect"].text
    assert Extended("emulator", open=False).status() == "host"


def test_reserved_names_are_refused() -> None:
    with pytest.raises(ValueError, match="would hide Device's own API"):

        class Clash(Device):
            @task
            def close():
                pass


def test_defaults_must_be_literals() -> None:
    with pytest.raises(ValueError, match="default of 'when' must be a literal"):

        class Bad(Device):
            @task
            def later(when=object()):
                pass


def test_async_methods_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot be async"):

        class Bad(Device):
            @task
            async def fetch():
                pass


def test_board_source_keeps_host_line_numbers() -> None:
    source = Station.__board_sources__["collect"]
    host_lines, first = inspect.getsourcelines(Station.collect.__wrapped__)
    assert source.first_line == first
    board_lines = source.text.splitlines()
    assert len(board_lines) == len(host_lines)
    assert board_lines[0] == ""  # the decorator line, blanked
    assert board_lines[1] == "def collect(samples, interval_ms=5):"
    assert board_lines[-1].strip() == "return [samples, interval_ms]"


def test_self_is_not_sent_and_thread_loops_are_instrumented() -> None:
    text = Station.__board_sources__["blink"].text
    assert "def blink(period_ms):" in text
    assert "while _bfw_go() and (True):" in text


def test_setup_source_is_its_body_at_global_scope() -> None:
    source = Station.__board_sources__["init"]
    assert source.kind == "s"
    assert source.text.splitlines()[2] == "value = pin"


def test_minify_keeps_line_numbers_and_changes_the_hash() -> None:
    class Small(Station, minify=True):
        pass

    plain = Station.__board_sources__["collect"]
    small = Small.__board_sources__["collect"]
    assert '"""' not in small.text
    assert len(small.text.splitlines()) == len(plain.text.splitlines())
    assert small.code_hash != plain.code_hash


def test_hash_follows_the_code() -> None:
    class One(Device):
        @task
        def f():
            return 1

    class Two(Device):
        @task
        def f():
            return 2

    class Three(Device):
        @task
        def f():
            return 1

    assert One.__board_sources__["f"].code_hash != Two.__board_sources__["f"].code_hash
    assert One.__board_sources__["f"].code_hash == Three.__board_sources__["f"].code_hash
