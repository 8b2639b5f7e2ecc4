"""A call's printed line stays whole while board threads print beside it.

MicroPython's ``print("a", "b")`` writes its parts one at a time, so a board
thread's framed line can arrive between them. The parser holds threads' frames
while the command's line is unfinished (belayfw/frame_hold.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from belayfw import Device, frame_hold, task, thread
from belayfw.frame_hold import FrameHold
from belayfw.response import ResponseParser

from .conftest import OutputCollector

TOKEN = b"\x02cafe0001"
CALL = 7


def result_frame(call_id: int = CALL) -> bytes:
    return TOKEN + b"r%d:None\x03" % call_id


def thread_frame(text: str) -> bytes:
    return TOKEN + b"o" + b"chatter\x1f" + text.encode() + b"\x03"


class Recorder:
    """Collects what the parser delivers, text and frames, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def text(self, text: str) -> None:
        self.events.append(("text", text))

    def frame(self, tag: str, payload: bytes) -> None:
        self.events.append(("frame", payload.partition(b"\x1f")[2].decode()))

    def parser(self) -> ResponseParser:
        return ResponseParser(TOKEN, self.text, self.frame)


def test_a_thread_line_waits_for_the_calls_line_to_end() -> None:
    seen = Recorder()
    parser = seen.parser()
    parser.begin(CALL, capture=False)
    parser.feed(b"OKteardown" + thread_frame("tick\n") + b" third\n" + result_frame())
    parser.feed(b"\x04\x04>")
    parser.finish()
    assert seen.events == [("text", "teardown"), ("text", " third\n"), ("frame", "tick\n")]


def test_held_frames_go_out_when_the_command_ends_without_a_newline() -> None:
    seen = Recorder()
    parser = seen.parser()
    parser.begin(CALL, capture=False)
    parser.feed(b"OKprogress: " + thread_frame("tick\n") + b"50%" + result_frame() + b"\x04\x04")
    assert seen.events == [("text", "progress: "), ("text", "50%")]
    parser.finish()
    assert seen.events[-1] == ("frame", "tick\n")


def test_held_frames_go_out_when_the_command_is_given_up() -> None:
    seen = Recorder()
    parser = seen.parser()
    parser.begin(CALL, capture=False)
    parser.feed(b"OKhalf a line" + thread_frame("tick\n"))
    parser.cut()  # a host Ctrl-C: the command's text is dropped from now on
    assert seen.events == [("text", "half a line"), ("frame", "tick\n")]


def test_text_between_commands_lets_held_frames_go_first() -> None:
    # Frames still held when a command ends without its release (a second Ctrl-C
    # inside the first's clean-up) go out before the next text between commands.
    events: list[str] = []
    sinks = FrameHold(lambda text: events.append(text), lambda tag, payload: events.append(tag))
    sinks.text("half", in_command=True)
    sinks.frame("o", b"chatter\x1ftick\n")
    assert events == ["half"]
    sinks.text("irq fired\n", in_command=False)
    assert events == ["half", "o", "irq fired\n"]


def test_between_commands_nothing_is_held() -> None:
    seen = Recorder()
    parser = seen.parser()
    parser.feed(b"irq fired " + thread_frame("tick\n"))
    assert seen.events == [("text", "irq fired "), ("frame", "tick\n")]


def test_frames_do_not_wait_forever_for_a_line_left_open() -> None:
    now = [100.0]
    seen = Recorder()
    parser = seen.parser()
    parser.sinks.clock = lambda: now[0]
    parser.begin(CALL, capture=False)
    parser.feed(b"OKworking..." + thread_frame("one\n"))
    assert seen.events == [("text", "working...")]
    now[0] += frame_hold.HOLD_SECONDS
    parser.sinks.release_if_stale()  # what the read loop does after each read
    assert seen.events[-1] == ("frame", "one\n")
    # The call's line is broken already, and the thread's ended at a line start.
    parser.feed(thread_frame("two\n"))
    assert seen.events[-1] == ("frame", "two\n")
    parser.feed(b"done\nhalf")  # a new line the call leaves open holds them again
    parser.feed(thread_frame("three\n"))
    assert seen.events[-1] == ("text", "done\nhalf")


line_part = st.text(alphabet="ab \n", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(line_part, min_size=1, max_size=8),
    frames_at=st.lists(st.integers(0, 8), max_size=6),
    cuts=st.lists(st.integers(0, 300), max_size=8),
)
def test_thread_lines_land_only_between_the_calls_lines(
    parts: list[str], frames_at: list[int], cuts: list[int]
) -> None:
    pieces = [b"OK"]
    frames = []
    for index, part in enumerate(parts):
        for _ in range(frames_at.count(index)):
            frames.append(f"tick {len(frames)}\n")
            pieces.append(thread_frame(frames[-1]))
        pieces.append(part.encode())
    pieces += [result_frame(), b"\x04\x04>"]
    stream = b"".join(pieces)
    seen = Recorder()
    parser = seen.parser()
    parser.begin(CALL, capture=False)
    points = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    parser.sinks.clock = lambda: 100.0  # however slow the machine, nothing is held too long
    for start, end in itertools.pairwise(points):
        parser.feed(stream[start:end])
    assert parser.done
    parser.finish()
    printed = "".join(text for kind, text in seen.events if kind == "text")
    assert printed == "".join(parts)
    assert [text for kind, text in seen.events if kind == "frame"] == frames
    so_far = ""
    for kind, text in seen.events:
        if kind == "text":
            so_far += text
        else:  # a thread line comes at the start of a line of the call's, or at its end
            assert so_far.endswith("\n") or not so_far or so_far == printed


class Chatter(Device):
    @thread
    def chatter():
        import time

        while True:
            print("tick")
            time.sleep_ms(1)

    @task
    def report(n):
        for i in range(n):
            print("reading", i, "of", n, "ok")


@pytest.fixture
def chatter(output: OutputCollector) -> Iterator[Chatter]:
    with Chatter("emulator", output=output) as device:
        yield device


def test_a_tasks_printed_lines_stay_whole_beside_a_printing_thread(
    chatter: Chatter, output: OutputCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However long a loaded machine takes between a line's parts, only its end counts here.
    monkeypatch.setattr(frame_hold, "HOLD_SECONDS", 600.0)
    handle = chatter.chatter()
    output.wait_for(lambda text: "[chatter] tick\n" in text)
    chatter.report(2000)
    assert handle.stop()
    lines = output.text.splitlines()
    task_lines = [line for line in lines if line.startswith("reading")]
    assert len(task_lines) == 2000
    assert all(line == f"reading {i} of 2000 ok" for i, line in enumerate(task_lines))
    assert all(line == "[chatter] tick" for line in lines if not line.startswith("reading"))
