"""CPU seconds and peak RSS of another process, read from /proc (psutil is not a dependency)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.measurements import Usage

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcessMeter:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        """User + system time so far. Fields after the command name, which may hold spaces."""
        with open(f"/proc/{self.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        return (utime + stime) / _CLOCK_TICKS

    def peak_rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"/proc/{self.pid}/status has no VmHWM line")

    def reset_peak(self) -> bool:
        """Start a new peak-RSS window (Linux >= 4.0); False where the kernel refuses."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            return False
        return True


@dataclass
class UsageWindow:
    """Filled in when the `measure_usage` block ends."""

    usage: Usage = field(default_factory=Usage)


@contextmanager
def measure_usage(
    server: ProcessMeter | None, emulator: ProcessMeter | None = None
) -> Iterator[UsageWindow]:
    """CPU each process spent inside the block, and the server's peak RSS within it."""
    window = UsageWindow()
    if server is not None:
        server.reset_peak()
    server_start = server.cpu_seconds() if server is not None else 0.0
    emulator_start = emulator.cpu_seconds() if emulator is not None else 0.0
    yield window
    window.usage = Usage(
        cpu_s=server.cpu_seconds() - server_start if server is not None else None,
        peak_rss_bytes=server.peak_rss_bytes() if server is not None else None,
        emulator_cpu_s=emulator.cpu_seconds() - emulator_start if emulator is not None else None,
    )
