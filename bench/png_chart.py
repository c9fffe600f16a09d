"""A bar chart as a PNG, written with zlib and struct (no plotting library needed).

Each bar is one target's attainment (1.0 = exactly at the target, above = better
than asked); a line marks 1.0. Labels use a 3x5 pixel font, upper case only.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GREEN: RGB = (46, 160, 67)
RED: RGB = (207, 34, 46)
GREY: RGB = (200, 200, 200)

# Each glyph: five rows of three bits, most significant bit on the left.
_FONT: dict[str, tuple[int, ...]] = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 2, 2, 2),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6),
    "C": (3, 4, 4, 4, 3), "D": (6, 5, 5, 5, 6), "E": (7, 4, 6, 4, 7), "F": (7, 4, 6, 4, 4),
    "G": (3, 4, 5, 5, 3), "H": (5, 5, 7, 5, 5), "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 2),
    "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7), "M": (5, 7, 7, 5, 5), "N": (6, 5, 5, 5, 5),
    "O": (2, 5, 5, 5, 2), "P": (6, 5, 6, 4, 4), "Q": (2, 5, 5, 6, 3), "R": (6, 5, 6, 5, 5),
    "S": (3, 4, 2, 1, 6), "T": (7, 2, 2, 2, 2), "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2),
    "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5), "Y": (5, 5, 2, 2, 2), "Z": (7, 1, 2, 4, 7),
    ".": (0, 0, 0, 0, 2), "-": (0, 0, 7, 0, 0), "=": (0, 7, 0, 7, 0), "/": (1, 1, 2, 4, 4),
    "%": (5, 1, 2, 4, 5), ">": (4, 2, 1, 2, 4), "<": (1, 2, 4, 2, 1), " ": (0, 0, 0, 0, 0),
    "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4), ",": (0, 0, 0, 2, 4), ":": (0, 2, 0, 2, 0),
}  # fmt: skip


def png_bytes(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG of `rgb` (rows top to bottom, three bytes a pixel)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(WHITE) * width * height)

    def rect(self, x: int, y: int, w: int, h: int, color: RGB) -> None:
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        if x0 >= x1:
            return
        for row in range(y0, y1):
            start = (row * self.width + x0) * 3
            self.pixels[start : start + (x1 - x0) * 3] = bytes(color) * (x1 - x0)

    def text(self, x: int, y: int, text: str, color: RGB = BLACK, scale: int = 2) -> None:
        for char in text.upper():
            for row, bits in enumerate(_FONT.get(char, _FONT[" "])):
                for column in range(3):
                    if bits & (4 >> column):
                        self.rect(x + column * scale, y + row * scale, scale, scale, color)
            x += 4 * scale

    def save(self, path: Path) -> None:
        path.write_bytes(png_bytes(self.width, self.height, bytes(self.pixels)))


@dataclass(frozen=True)
class Bar:
    label: str  # short, upper case: it is drawn in the 3x5 font
    attainment: float
    met: bool


def bar_chart(bars: Sequence[Bar], path: Path, *, top: float = 3.0) -> None:
    """Bars of attainment clipped at `top`, the target line at 1.0."""
    bar_w, gap, margin, plot_h = 56, 24, 40, 240
    width = margin * 2 + len(bars) * (bar_w + gap)
    height = plot_h + 90
    canvas = Canvas(width, height)
    base = 30 + plot_h

    def y_of(value: float) -> int:
        return base - round(min(value, top) / top * plot_h)

    canvas.text(margin, 8, "ATTAINMENT OF EACH TARGET  (1.0 = TARGET, HIGHER = BETTER)")
    for tick in range(int(top) + 1):
        canvas.rect(margin - 6, y_of(tick), width - 2 * margin + 6, 1, GREY)
        canvas.text(margin - 24, y_of(tick) - 5, str(tick))
    for index, bar in enumerate(bars):
        x = margin + gap // 2 + index * (bar_w + gap)
        top_y = y_of(bar.attainment)
        canvas.rect(x, top_y, bar_w, base - top_y, GREEN if bar.met else RED)
        canvas.text(x, top_y - 14, f"{bar.attainment:.2f}" if bar.attainment < 100 else ">99")
        canvas.text(x, base + 10, bar.label[:8])
    canvas.rect(margin - 6, y_of(1.0) - 1, width - 2 * margin + 6, 3, BLACK)
    canvas.rect(margin, base, width - 2 * margin, 1, BLACK)
    canvas.save(path)
