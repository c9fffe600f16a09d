"""Keeps the benchmark harness from rotting: its in-process parts at tiny sizes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from bench.png_chart import GREEN, RED, Bar, bar_chart
from bench.queue_phase import PAYLOAD_BYTES, queue_memory, queue_rows
from bench.targets import TARGETS, judge


def test_queue_phase_times_push_and_pop_at_each_length() -> None:
    rows = queue_rows([100, 1_000], operations=200)

    assert [row.phase for row in rows] == [
        "queue push @100",
        "queue pop @100",
        "queue push @1,000",
        "queue pop @1,000",
    ]
    for row in rows:
        assert row.ops == 200
        assert row.rate_per_s > 0
        assert 0 < row.p50_ms <= row.p99_ms


def test_queue_memory_counts_more_than_the_payload() -> None:
    memory = queue_memory(500)

    assert memory.jobs == 500
    assert memory.bytes_per_job > PAYLOAD_BYTES
    assert memory.overhead_per_job == memory.bytes_per_job - PAYLOAD_BYTES


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        offset += 12 + length
    return chunks


def test_bar_chart_is_a_png_any_decoder_reads(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"

    bar_chart([Bar("SUBMIT", 0.75, False), Bar("POP", 2.5, True)], path)

    chunks = _chunks(path.read_bytes())
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, color_type) == (8, 2)  # 8-bit RGB
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == height * (1 + 3 * width)
    rows = [raw[y * (1 + 3 * width) : (y + 1) * (1 + 3 * width)] for y in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter type "none" on every row
    pixels = b"".join(row[1:] for row in rows)
    assert bytes(GREEN) in pixels and bytes(RED) in pixels  # the met and the missed bar


def test_a_target_more_than_ten_percent_worse_than_the_baseline_is_a_regression() -> None:
    baseline = {target.key: target.limit for target in TARGETS}

    def worse_by(fraction: float) -> dict[str, float]:
        return {
            t.key: t.limit * (1 - fraction if t.higher_is_better else 1 + fraction) for t in TARGETS
        }

    assert not any(v.regressed for v in judge(worse_by(0.05), baseline))
    verdicts = judge(worse_by(0.2), baseline)
    assert all(v.regressed and not v.met for v in verdicts)
    assert not any(v.regressed for v in judge(worse_by(0.2), None))
