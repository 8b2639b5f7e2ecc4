"""The emulator board's own flash: a LittleFS2 image file mounted at "/" at boot.

Left alone, the MicroPython unix port sees the host's real root: board code
running ``os.listdir('/')`` lists the host's ``/etc`` and ``os.remove`` deletes
host files. Every emulator board therefore boots (``board/flash_boot.py``, run
before the REPL starts) onto a LittleFS2 file system, as rp2 boards use, on a
block device backed by an image file, and the host root is unmounted. belayfw's
board modules (the ``machine`` shim) sit in a read-only ROM file system at
``/rom``, the way MicroPython ports with ROMFS mount theirs.

The image lives in the board's sandbox and goes with it, unless the user names
one (``emulator:pico?flash=board.bin``): that one is kept, so the files survive
closing and reopening the board, and it is locked while a board uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from functools import cache
from pathlib import Path

from belayfw.board import board_source
from belayfw.errors import ConfigurationError, FlashImageError, PortInUse

#: LittleFS block size, as on rp2 boards (the erase size of their flash).
BLOCK_SIZE = 4096
#: The smallest flash worth mounting (LittleFS needs a few blocks for itself).
MIN_FLASH_BYTES = 16 * BLOCK_SIZE
#: LittleFS2 writes this magic at offset 8 of its superblock, in block 0 or 1.
_MAGIC = b"littlefs"
_MAGIC_OFFSET = 8
#: The board modules frozen into the ROM file system mounted at /rom.
ROM_MODULES = (
    "machine",
    "machine_system",
    "_belayfw_state",
    "_belayfw_hw",
    "_belayfw_buses",
    "neopixel",
)

_SIZE = re.compile(r"^\s*(\d+)\s*([kKmM]?)[bB]?\s*$")


def parse_size(value: int | str) -> int:
    """A flash size in bytes from ``2097152``, ``"2048K"`` or ``"2M"``; a whole number of blocks."""
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if match is None:
            raise ConfigurationError(
                f"flash size {value!r} is not a size; write bytes, or K or M (e.g. '1408K', '2M')"
            )
        size = int(match[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[match[2].lower()]
    if size < MIN_FLASH_BYTES or size % BLOCK_SIZE:
        raise ConfigurationError(
            f"flash size {size} bytes is not usable: give a multiple of {BLOCK_SIZE} bytes "
            f"of at least {MIN_FLASH_BYTES // 1024} K"
        )
    return size


@cache
def rom_image(profile_modules: tuple[str, ...] = ()) -> bytes:
    """The ROM file system (MicroPython's VfsRom format): :data:`ROM_MODULES` and a
    profile's own modules (``rp2`` on the pico profile, ``esp32`` on the esp32 one)."""
    from mpremote.romfs import VfsRomWriter

    writer = VfsRomWriter()
    for name in (*ROM_MODULES, *profile_modules):
        writer.mkfile(f"{name}.py", board_source(name).encode("utf-8"))
    image: bytes = writer.finalise()
    return image


class FlashImage:
    """One board's flash image: created, checked and (when kept) locked on the host."""

    def __init__(
        self,
        sandbox: Path,
        default_size: int,
        *,
        keep_at: str | os.PathLike[str] | None = None,
        size: int | str | None = None,
    ) -> None:
        self.kept = keep_at is not None
        self.path = Path(keep_at).expanduser().resolve() if keep_at else sandbox / "flash.bin"
        requested = parse_size(size) if size is not None else default_size
        self._lock_fd: int | None = None
        if self.kept:
            self._lock()
        try:
            if not self.path.exists() or self.path.stat().st_size == 0:
                self._create(requested)
                self.size, self.fresh = requested, True
            else:
                self.size, self.fresh = self._check_existing()
                if size is not None and self.size != requested:
                    raise FlashImageError(
                        f"{self.path} holds a {self.size // 1024} K flash, not "
                        f"{requested // 1024} K; leave flash_size out to use it as it is"
                    )
        except BaseException:
            self.release()
            raise

    @property
    def blocks(self) -> int:
        return self.size // BLOCK_SIZE

    def boot_code(self, rom_path: Path, platform: str = "linux") -> str:
        """The ``-c`` program that mounts this image at "/" before the REPL starts,
        and makes ``sys.platform`` say ``platform``.

        Asked again at each start (a soft reset is a new process): only an image
        that was never formatted is formatted, so a restart keeps the files.
        """
        if self.fresh:
            _, self.fresh = self._check_existing()
        call = (
            f"_bfw_boot({str(self.path)!r}, {BLOCK_SIZE}, {self.blocks}, "
            f"{self.fresh!r}, {str(rom_path)!r}, {platform!r})\ndel _bfw_boot, _bfw_platform\n"
        )
        return board_source("flash_boot") + call

    def release(self) -> None:
        """Unlock a kept image (the board using it has stopped)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def _create(self, size: int) -> None:
        try:
            with open(self.path, "wb") as image:
                image.truncate(size)  # sparse: LittleFS does not need erased (0xFF) blocks
        except OSError as exc:
            raise FlashImageError(f"cannot create the flash image {self.path}: {exc}") from exc

    def _check_existing(self) -> tuple[int, bool]:
        """The image's size, and whether it was never formatted (created, board gone)."""
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as image:
                head = image.read(2 * BLOCK_SIZE)
        except OSError as exc:
            raise FlashImageError(f"cannot read the flash image {self.path}: {exc}") from exc
        if size % BLOCK_SIZE or size < MIN_FLASH_BYTES:
            raise FlashImageError(
                f"{self.path} is {size} bytes, not a LittleFS2 image of whole "
                f"{BLOCK_SIZE}-byte blocks; name a new file (it is created and formatted)"
            )
        superblocks = (head[_MAGIC_OFFSET:], head[BLOCK_SIZE + _MAGIC_OFFSET :])
        if any(block.startswith(_MAGIC) for block in superblocks):
            return size, False
        if not head.strip(b"\0"):
            return size, True
        raise FlashImageError(
            f"{self.path} is not a LittleFS2 flash image; name a new file (it is "
            "created and formatted) or an image an emulator board made"
        )

    def _lock(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise FlashImageError(f"cannot open the flash image {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise PortInUse(
                f"the flash image {self.path} is in use by another emulator board; close "
                "that board first, or give this one another image"
            ) from None
        self._lock_fd = fd
