"""The pytest plugin, driven by pytest itself (pytester) against emulator boards."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from belayfw.errors import PortInUse
from belayfw.export import ExportedBoard, PtyExport
from belayfw.testing.boards import ResetMode, with_profile
from belayfw.testing.claims import PortClaims, is_private_board

STATION = """
from belayfw import Device, task, thread


class Station(Device):
    @task
    def add(a, b):
        return a + b

    @task
    def fail_loudly():
        print("checking the sensor")
        print("sensor value 0")
        return 10 / 0

    @thread
    def ticker():
        import time
        while True:
            time.sleep_ms(5)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch):
    """A user's project with no conftest; lock files in a temporary folder."""
    monkeypatch.setenv("BELAYFW_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
    monkeypatch.delenv("BELAYFW_PORT", raising=False)
    pytester.makepyfile(station=STATION)
    pytester.syspathinsert()
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def test_board_and_board_factory_open_devices_closed_after_each_test(project):
    project.makepyfile(
        test_boards="""
        from belayfw import Device
        from station import Station

        opened = []

        def test_plain(board):
            assert type(board) is Device and board.is_open
            assert board.eval("6 * 7") == 42
            opened.append(board)

        def test_subclass(board_factory):
            station = board_factory(Station)
            assert isinstance(station, Station) and station.add(2, 3) == 5
            opened.append(station)

        def test_each_closed_after_its_test():
            assert len(opened) == 2
            assert not any(device.is_open for device in opened)
        """
    )
    run(project).assert_outcomes(passed=3)


def test_board_session_ends_each_tests_threads_even_when_it_fails(project):
    project.makepyfile(
        test_sessions="""
        from station import Station

        seen = {}

        def test_starts_a_thread_then_fails(board_factory):
            station = board_factory(Station, shared=True)
            seen["device"], seen["thread"] = station, station.ticker()
            assert seen["thread"].alive
            assert False, "this test fails on purpose"

        def test_next_test_starts_clean(board_factory):
            station = board_factory(Station, shared=True)
            assert station is seen["device"]  # opened once for the run
            assert not seen["thread"].alive

        def test_board_session_is_shared_device(board_session):
            assert board_session.is_open and board_session.eval("1") == 1
        """
    )
    run(project).assert_outcomes(passed=2, failed=1)


def test_reset_none_lets_threads_and_globals_carry_over(project):
    project.makepyfile(
        test_none="""
        from station import Station

        seen = {}

        def test_first(board_factory):
            station = board_factory(Station, shared=True)
            seen["thread"] = station.ticker()
            station.exec("left_behind = 1")

        def test_second(board_factory):
            station = board_factory(Station, shared=True)
            assert seen["thread"].alive
            assert station.eval("left_behind") == 1
        """
    )
    run(project, "--belayfw-reset", "none").assert_outcomes(passed=2)


@pytest.mark.parametrize(("mode", "kept"), [("session", True), ("soft", False)])
def test_soft_reset_clears_board_ram_between_tests(project, mode, kept):
    project.makepyfile(
        test_soft=f"""
        def test_first(board_session):
            board_session.exec("left_behind = 1")

        def test_second(board_session):
            assert board_session.eval("'left_behind' in globals()") is {kept}
        """
    )
    run(project, "--belayfw-reset", mode).assert_outcomes(passed=2)


def test_board_marker_picks_the_emulator_profile(project):
    project.makepyfile(
        test_profile="""
        import pytest

        @pytest.mark.board(profile="pico")
        def test_pico(board):
            assert board.port == "emulator:pico"

        def test_default_from_command_line(board):
            assert board.port == "emulator:esp32"

        @pytest.mark.parametrize("belayfw_profile", ["unix"], indirect=True)
        def test_parametrized(board):
            assert board.port == "emulator:unix"

        @pytest.mark.board(heap="1M")
        def test_unknown_option(board):
            pass
        """
    )
    result = run(project, "--belayfw-profile", "esp32")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.board: unknown option(s) heap; known: profile*"])


def test_requires_marker_skips_with_the_missing_feature_named(project):
    project.makeconftest(
        """
        import pytest
        from belayfw.session.capabilities import DeviceCapabilities

        @pytest.fixture(autouse=True)
        def board_without_viper(monkeypatch):
            # The unix port has every feature: make this board report viper missing.
            original = DeviceCapabilities.supports
            monkeypatch.setattr(
                DeviceCapabilities, "supports",
                lambda self, name: name != "viper" and original(self, name),
            )
        """
    )
    project.makepyfile(
        test_requires="""
        import pytest

        @pytest.mark.requires("threads", "filesystem")
        def test_has_them(board):
            pass

        @pytest.mark.requires("threads", "viper")
        def test_lacks_viper(board):
            raise AssertionError("must not run")

        @pytest.mark.requires("thread")
        def test_misspelt(board):
            pass
        """
    )
    result = run(project, "-rs")
    result.assert_outcomes(passed=1, skipped=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*unknown feature 'thread' (did you mean 'threads'?)*",
            "*SKIPPED*emulator lacks viper (*MicroPython* on linux)*",
        ]
    )


def test_failing_board_test_reports_board_traceback_and_output(project):
    project.makepyfile(
        test_failing="""
        from station import Station

        def test_reading(board_factory):
            station = board_factory(Station)
            station.fail_loudly()
        """
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- belayfw: board traceback -*",
            '*File "*station.py", line 13, in fail_loudly*',
            "ZeroDivisionError: divide by zero",
            "*- belayfw: last lines printed by emulator -*",
            "checking the sensor",
            "sensor value 0",
        ]
    )


def test_header_names_each_board_and_its_firmware(project):
    project.makepyfile(test_nothing="def test_nothing(): pass")
    result = run(project, "--belayfw-port", "emulator:pico,emulator", "--belayfw-port", "emulator")
    result.stdout.fnmatch_lines(
        [
            "belayfw: 2 board port(s), reset between tests: session",
            "  emulator:pico: *MicroPython*, platform rp2",
            "  emulator: *MicroPython*, platform linux",
        ]
    )


def test_port_from_environment_and_bad_options(project, monkeypatch):
    project.makepyfile(test_env="def test_port(board): assert board.port == 'emulator:pico'")
    monkeypatch.setenv("BELAYFW_PORT", "emulator:pico")
    run(project).assert_outcomes(passed=1)
    result = run(project, "--belayfw-profile", "pic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--belayfw-profile pic: unknown profile; choose one of unix*"])
    result = run(project, "--belayfw-port", "emulatr")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--belayfw-port emulatr:*did you mean*"])


def test_plugin_can_be_disabled_and_conftest_fixtures_override_it(project):
    project.makepyfile(test_own="def test_own(board): assert board == 'my own board'")
    project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def board():
            return "my own board"
        """
    )
    run(project).assert_outcomes(passed=1)
    result = run(project, "-p", "no:belayfw", "--fixtures")
    assert "board_factory" not in result.stdout.str()


def test_docs_example_runs_with_no_conftest(project):
    """docs/testing.md's first example, as a user would copy it."""
    text = (Path(__file__).parent.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    station, tests = re.findall(r"```python\n(.*?)```", text, re.S)[:2]
    project.makepyfile(station=station, test_station=tests)
    run(project).assert_outcomes(passed=3)


# -- several boards, several workers ------------------------------------------------

WORKER_LOG_TESTS = """
import os
import time

import pytest


@pytest.mark.parametrize("n", range(6))
def test_uses_one_board(board, n):
    start = time.monotonic_ns()
    assert board.eval("1 + 1") == 2
    worker = os.environ["PYTEST_XDIST_WORKER"]
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"{worker} {board.port} {start} {time.monotonic_ns()}\\n")
"""


@pytest.fixture
def served_boards() -> Iterator[Callable[[int], list[str]]]:
    """Emulator boards served on pty paths, as USB boards look to the workers."""
    exports: list[PtyExport] = []
    threads: list[threading.Thread] = []

    def serve(count: int) -> list[str]:
        for _ in range(count):
            export = PtyExport(ExportedBoard())
            exports.append(export)
            thread = threading.Thread(target=export.serve_forever, daemon=True)
            thread.start()
            threads.append(thread)
        return [export.path for export in exports]

    yield serve
    for export in exports:
        export.stop()
    for thread in threads:
        thread.join(timeout=30)
    for export in exports:
        export.close()
        export.board.close()


def worker_log(path: Path) -> list[tuple[str, str, int, int]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(worker, port, int(start), int(end)) for worker, port, start, end in rows]


def test_two_workers_two_boards_each_worker_keeps_its_own(project, served_boards, monkeypatch):
    ports = served_boards(2)
    log = project.path / "workers.log"
    monkeypatch.setenv("WORKER_LOG", str(log))
    project.makepyfile(test_workers=WORKER_LOG_TESTS)
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--belayfw-port", ",".join(ports)
    )
    result.assert_outcomes(passed=6)
    used = {(worker, port) for worker, port, _, _ in worker_log(log)}
    assert {worker for worker, _ in used} == {"gw0", "gw1"}
    by_worker = {worker: {port for w, port in used if w == worker} for worker, _ in used}
    assert by_worker == {"gw0": {ports[0]}, "gw1": {ports[1]}}


def test_two_workers_one_board_take_turns(project, served_boards, monkeypatch):
    (port,) = served_boards(1)
    log = project.path / "workers.log"
    monkeypatch.setenv("WORKER_LOG", str(log))
    project.makepyfile(test_workers=WORKER_LOG_TESTS)
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--belayfw-port", port
    )
    result.assert_outcomes(passed=6)
    uses = sorted(worker_log(log), key=lambda row: row[2])
    assert {worker for worker, *_ in uses} == {"gw0", "gw1"}
    for earlier, later in itertools.pairwise(uses):
        assert earlier[3] <= later[2], f"two tests used {port} at once: {earlier} {later}"


# -- port claims ---------------------------------------------------------------------


def test_claims_are_exclusive_across_claimers_and_reentrant_within_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BELAYFW_LOCK_DIR", str(tmp_path))
    first = PortClaims(["/dev/ttyFAKE0", "/dev/ttyFAKE1"], worker_index=0, wait=0)
    second = PortClaims(["/dev/ttyFAKE0", "/dev/ttyFAKE1"], worker_index=1, wait=0)
    with first.claim() as mine, first.claim() as again:
        assert mine == again == "/dev/ttyFAKE0"
        with second.claim() as theirs:
            assert theirs == "/dev/ttyFAKE1"
            with pytest.raises(PortInUse, match="another test worker"):
                second.acquire("/dev/ttyFAKE0")
    with second.claim("/dev/ttyFAKE0") as now_free:  # released with the last claim
        assert now_free == "/dev/ttyFAKE0"


def test_emulator_ports_that_start_boards_need_no_claim():
    assert is_private_board("emulator") and is_private_board("emulator:pico")
    assert not is_private_board("emulator:unix#abc") and not is_private_board("/dev/ttyACM0")
    assert with_profile("emulator", "pico") == "emulator:pico"
    assert with_profile("/dev/ttyACM0", "pico") == "/dev/ttyACM0"
    assert ResetMode("soft") is ResetMode.SOFT
