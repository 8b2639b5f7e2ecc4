"""ser2net in front of a serial device: the configuration labs use, and a runner for it.

ser2net is how a board attached to one machine is reached from others (labgrid's
exporter starts it for every serial port). :func:`config` writes the
configuration this project tests against: an RFC 2217 accepter as labgrid's
(``telnet(rfc2217),tcp``), a raw one beside it, the device at 115200 8N1 with
modem lines ignored (``local``), ``nodelay`` so small commands leave at once,
and ``chardelay: false`` so ser2net forwards bytes as they come instead of
waiting for a gap between characters. :class:`Ser2net` runs it in the
foreground, for tests, benchmarks and an emulator board shared with
ser2net-based tooling.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from belayfw.errors import FeatureUnavailable

_START_SECONDS = 10.0

TEMPLATE = """\
connection: &rfc2217
  accepter: telnet(rfc2217),tcp(nodelay),{host},{rfc2217_port}
  connector: serialdev,{device},115200n81,local
  options:
    chardelay: false
connection: &raw
  accepter: tcp(nodelay),{host},{tcp_port}
  connector: serialdev,{device},115200n81,local
  options:
    chardelay: false
"""


def config(device: str, *, rfc2217_port: int, tcp_port: int, host: str = "127.0.0.1") -> str:
    """ser2net 4 YAML serving ``device`` as RFC 2217 on one port and raw TCP on another."""
    return TEMPLATE.format(device=device, host=host, rfc2217_port=rfc2217_port, tcp_port=tcp_port)


def find_ser2net() -> str | None:
    """The ser2net executable (Debian puts it in /usr/sbin), or None."""
    return shutil.which("ser2net") or shutil.which("ser2net", path="/usr/sbin:/sbin")


class Ser2net:
    """A foreground ser2net serving one device on two free loopback ports until closed."""

    def __init__(self, device: str, host: str = "127.0.0.1") -> None:
        binary = find_ser2net()
        if binary is None:
            raise FeatureUnavailable("ser2net is not installed (Debian: apt-get install ser2net)")
        self.host = host
        self.rfc2217_port, self.tcp_port = _free_port(host), _free_port(host)
        self._folder = Path(tempfile.mkdtemp(prefix="belayfw-ser2net-"))
        self.config_path = self._folder / "ser2net.yaml"
        self.config_path.write_text(
            config(device, rfc2217_port=self.rfc2217_port, tcp_port=self.tcp_port, host=host)
        )
        self.process = subprocess.Popen(
            [binary, "-n", "-c", str(self.config_path), "-P", str(self._folder / "pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._await_listening()
        except BaseException:
            self.close()
            raise

    @property
    def rfc2217_url(self) -> str:
        return f"rfc2217://{self.host}:{self.rfc2217_port}"

    @property
    def socket_url(self) -> str:
        return f"socket://{self.host}:{self.tcp_port}"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> Ser2net:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _await_listening(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        waiting = [self.rfc2217_port, self.tcp_port]
        while waiting:
            if self.process.poll() is not None:
                said = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                raise FeatureUnavailable(
                    f"ser2net exited with code {self.process.returncode}: {said.strip()}"
                )
            if time.monotonic() >= deadline:
                raise FeatureUnavailable(f"ser2net did not listen within {_START_SECONDS:g} s")
            if _listening(self.host, waiting[0]):
                waiting.pop(0)
            else:
                time.sleep(0.02)  # polling a server that is starting; no event to wait on


def _listening(host: str, port: int) -> bool:
    """Is a socket listening on ``port``? Read from /proc/net/tcp*, not by connecting:
    a connection makes ser2net open the device, and it refuses the next client while
    it closes it again. (Binding the port to test it could steal it from ser2net.)"""
    suffix = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(suffix) and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
