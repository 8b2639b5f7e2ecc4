"""Ordinary calls cost the board no memory for good.

MicroPython interns every short str/bytes literal it compiles and never frees
it; a call whose argument went over as such a literal leaked board heap (the
esp32 profile ran out after about 2,400 distinct short strings). Measured on
the real interpreter: free heap after a collection, before and after.
"""

from __future__ import annotations

from belayfw import Device, EmulatorBoard, task

#: Bytes of drift allowed in free heap (allocator granularity, a grown dict or two).
TOLERANCE = 1024


class Echo(Device):
    @task
    def echo(value):
        return value

    @task
    def free_heap():
        import gc

        gc.collect()
        return gc.mem_free()


def test_distinct_short_string_arguments_leave_free_heap_flat(output) -> None:
    with Echo("emulator:esp32", output=output) as device:
        for warm_up in range(200):  # reach the steady state (dict sizes, caches)
            device.echo(f"w{warm_up}")
        # ... and the raw REPL's input buffer, which the board keeps as large as
        # the largest command it was sent in plain raw mode.
        device.echo([f"w{n}" for n in range(50)])
        device.echo({f"w{n}": b"w%d" % n for n in range(50)})
        before = device.free_heap()
        for n in range(10_000):
            key = f"k{n}"
            assert device.echo(key) == key
        assert device.echo([f"a{n}" for n in range(50)]) == [f"a{n}" for n in range(50)]
        assert device.echo({f"d{n}": b"b%d" % n for n in range(50)}) == {
            f"d{n}": b"b%d" % n for n in range(50)
        }
        after = device.free_heap()
    assert before - after < TOLERANCE, f"free heap went from {before} to {after} bytes"


def test_reconnecting_to_a_persistent_board_leaves_free_heap_flat(output) -> None:
    with EmulatorBoard("esp32") as board:
        for _ in range(3):  # the runtime and the code are deployed once
            with Echo(board.port, output=output):
                pass
        with Echo(board.port, output=output) as device:
            before = device.free_heap()
        for _ in range(200):
            with Echo(board.port, output=output):
                pass
        with Echo(board.port, output=output) as device:
            after = device.free_heap()
    assert before - after < TOLERANCE, f"free heap went from {before} to {after} bytes"


def test_short_strings_and_bytes_of_every_kind_round_trip(output) -> None:
    with Echo("emulator", output=output) as device:
        values = ["", "x", "é", "ten chars!", "eleven char", "tab\there", "q'uo\"te", "\x04"]
        assert device.echo(values) == values
        assert device.echo(tuple(value.encode() for value in values)) == tuple(
            value.encode() for value in values
        )
        assert device.echo(bytearray(b"ab")) == bytearray(b"ab")
        assert device.echo({"k": {"s"}}) == {"k": {"s"}}
