"""The emulator board's own flash: no board file call reaches a host file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from belayfw import Device, DeviceDisconnected, DeviceError
from belayfw.errors import ConfigurationError, FlashImageError, PortInUse
from belayfw.transports.emulator import EmulatorBoard, EmulatorTransport

# Runs on the board: each attempt's outcome, "ok" or the exception's type name.
PROBE = """
import os
def _probe(attempts):
    out = []
    for label, call, args in attempts:
        try:
            r = call(*args)
            if hasattr(r, 'read'):
                r.read()
                r.close()
            out.append((label, 'ok'))
        except OSError as e:
            out.append((label, 'OSError'))
    return out
"""


def _transport(device: Device) -> EmulatorTransport:
    transport = device._link.transport
    assert isinstance(transport, EmulatorTransport)
    return transport


@pytest.fixture
def victims(tmp_path: Path) -> Path:
    """Host files and folders that board code must not be able to touch."""
    (tmp_path / "victim.txt").write_text("host data")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inner.txt").write_text("host data")
    return tmp_path


def _host_paths(victims: Path, sandbox: Path) -> dict[str, str]:
    file = str(victims / "victim.txt")
    folder = str(victims / "folder")
    (sandbox / "link_file").symlink_to(victims / "victim.txt")
    (sandbox / "link_dir").symlink_to(victims / "folder")
    up = "../" * 12
    return {
        "absolute file": file,
        "absolute folder": folder,
        "dotdot file": up + file.lstrip("/"),
        "dotdot folder": up + folder.lstrip("/"),
        "rooted dotdot": "/" + up + file.lstrip("/"),
        "host etc": "/etc/passwd",
        "sandbox symlink file": "link_file",
        "sandbox symlink folder": "link_dir",
        "sandbox absolute": str(sandbox / "link_file"),
        "sandbox image": str(sandbox / "flash.bin"),
    }


def _attempts(paths: dict[str, str]) -> str:
    calls = []
    for label, path in paths.items():
        p = repr(path)
        calls += [
            f"('{label}: open', open, ({p},))",
            f"('{label}: open w', open, ({p}, 'w'))",
            f"('{label}: open a', open, ({p}, 'a'))",
            f"('{label}: listdir', os.listdir, ({p},))",
            f"('{label}: stat', os.stat, ({p},))",
            f"('{label}: remove', os.remove, ({p},))",
            f"('{label}: rename from', os.rename, ({p}, '/taken'))",
            f"('{label}: rename onto', os.rename, ('/mine', {p}))",
            f"('{label}: mkdir', os.mkdir, ({p} + '/new',))",
            f"('{label}: rmdir', os.rmdir, ({p},))",
        ]
    return "[" + ",\n".join(calls) + "]"


def _host_state(victims: Path) -> dict[str, str]:
    return {
        str(path.relative_to(victims)): path.read_text() if path.is_file() else "<dir>"
        for path in sorted(victims.rglob("*"))
    }


@pytest.mark.parametrize("workdir", ["/", "/deep/er"])
def test_board_file_calls_never_reach_host_files(output, victims: Path, workdir: str) -> None:
    before = _host_state(victims)
    with Device("emulator", output=output) as board:
        paths = _host_paths(victims, _transport(board).sandbox)
        board.exec(PROBE)
        board.exec(
            "os.mkdir('/deep')\nos.mkdir('/deep/er')\n"
            "f = open('/mine', 'w')\nf.write('board data')\nf.close()\n"
            f"os.chdir({workdir!r})"
        )
        outcomes = dict(board.eval(f"_probe({_attempts(paths)})"))
        assert len(outcomes) == 10 * len(paths)
        # A bare name is a board path: writing "link_file" makes a flash file of that
        # name, harmlessly. Reading or listing it before that finds nothing.
        assert outcomes["sandbox symlink file: open"] == "OSError"
        assert outcomes["sandbox symlink folder: listdir"] == "OSError"
        reached = [
            label
            for label, outcome in outcomes.items()
            if outcome != "OSError" and not label.startswith("sandbox symlink")
        ]
        assert reached == []
    assert _host_state(victims) == before


def test_board_sees_only_its_flash(output) -> None:
    with Device("emulator:pico", output=output) as board:
        assert board.eval("__import__('os').listdir('/')") == ["rom"]
        assert board.eval("__import__('os').getcwd()") == "/"
        block, _, blocks, *_ = board.eval("__import__('os').statvfs('/')")
        assert block * blocks == 1408 * 1024
        names = board.eval("[n for n in globals() if not n.startswith('_bfw_')]")
        assert "_bfw_boot" not in board.eval("list(globals())")
        assert "Flash" not in names


def test_board_modules_come_from_a_read_only_rom(board: Device) -> None:
    assert board.eval("__import__('machine').Pin(2, 1).value()") == 0
    assert "machine.py" in board.eval("__import__('os').listdir('/rom')")
    with pytest.raises(DeviceError) as caught:
        board.exec("open('/rom/machine.py', 'w')")
    assert caught.value.type_name == "OSError"


def test_flash_image_kept_across_close_and_reopen(output, tmp_path: Path) -> None:
    image = tmp_path / "boards" / "pico.bin"
    port = f"emulator:pico?flash={image}"
    with Device(port, output=output) as board:
        board.exec("f = open('/config.txt', 'w')\nf.write('saved')\nf.close()")
        board.exec("__import__('os').mkdir('/lib')")
        sandbox = _transport(board).sandbox
    assert not sandbox.exists()
    assert image.stat().st_size == 1408 * 1024
    with Device(port, output=output) as board:
        assert board.eval("open('/config.txt').read()") == "saved"
        assert sorted(board.eval("__import__('os').listdir('/')")) == ["config.txt", "lib", "rom"]


def test_kept_image_is_used_by_one_board_at_a_time(tmp_path: Path) -> None:
    image = tmp_path / "shared.bin"
    with EmulatorBoard("pico", flash=image) as board:
        with Device(board.port) as device:
            device.exec("open('/here', 'w').close()")
        with pytest.raises(PortInUse, match="in use by another emulator board"):
            EmulatorBoard("pico", flash=image)
    with EmulatorBoard("pico", flash=image) as again, Device(again.port) as device:
        assert again.transport.flash.fresh is False  # released on close
        assert sorted(device.eval("__import__('os').listdir('/')")) == ["here", "rom"]


def test_flash_size_is_overridable(output, tmp_path: Path) -> None:
    with Device("emulator:esp32?flash_size=256K", output=output) as board:
        block, _, blocks, *_ = board.eval("__import__('os').statvfs('/')")
        assert block * blocks == 256 * 1024
    image = tmp_path / "small.bin"
    with EmulatorBoard("unix", flash=image, flash_size="128K"):
        pass
    with pytest.raises(FlashImageError, match="holds a 128 K flash, not 2048 K"):
        EmulatorBoard("unix", flash=image, flash_size="2M")


@pytest.mark.parametrize(
    ("port", "error", "message"),
    [
        ("emulator:pico?flash_size=lots", ConfigurationError, "not a size"),
        ("emulator:pico?flash_size=1000", ConfigurationError, "multiple of 4096"),
        ("emulator:pico?flahs=x.bin", ConfigurationError, "'flahs' \\(did you mean 'flash'"),
        ("emulator:pico?flash=", ConfigurationError, "needs a value"),
    ],
)
def test_bad_flash_options_are_clear_errors(port: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Device(port)


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.bin"
    notes.write_bytes(b"my notes, not a file system" * 4096)
    with pytest.raises(FlashImageError, match="not a LittleFS2 flash image"):
        Device(f"emulator:pico?flash={notes}")
    assert notes.read_bytes().startswith(b"my notes")


def test_an_image_that_does_not_mount_stops_the_board(tmp_path: Path) -> None:
    """The last line of defence: a board never runs on the host root."""
    broken = tmp_path / "broken.bin"
    broken.write_bytes(bytes(8) + b"littlefs" + bytes(256 * 1024 - 16))  # magic, no file system
    with pytest.raises(DeviceDisconnected, match="did not mount"):
        Device(f"emulator:pico?flash={broken}")


def test_unformatted_image_left_by_a_failed_start_is_formatted(output, tmp_path: Path) -> None:
    blank = tmp_path / "blank.bin"
    with open(blank, "wb") as image:
        image.truncate(256 * 1024)
    with Device(f"emulator:pico?flash={blank}", output=output) as board:
        assert board.eval("__import__('os').listdir('/')") == ["rom"]
    assert os.path.getsize(blank) == 256 * 1024


def test_board_does_not_see_the_hosts_environment(output, monkeypatch: pytest.MonkeyPatch) -> None:
    """Board code can read its environment: host tokens must not be there."""
    monkeypatch.setenv("BELAYFW_TEST_SECRET", "host-token")
    with Device("emulator", output=output) as device:
        assert device.eval("__import__('os').getenv('BELAYFW_TEST_SECRET')") is None
        assert device.eval("__import__('os').getenv('MICROPYPATH')") == ":/rom:.frozen:/lib"
