"""The vectorised signature (numpy) gives format 2's values, defined by the loop below."""

from __future__ import annotations

import zlib

import pytest

from monitor import dedup


def _format_2(stream: str) -> tuple[tuple[int, ...], int]:
    """Format 2 as defined: CRC-32 of each 8-character window's UTF-32 bytes, mixed,
    the low 7 bits choosing the bin, each bin's minimum of the high bits."""
    data = stream.encode("utf-32-le")
    shingles = {data[i : i + 32] for i in range(0, max(len(data) - 32, 0) + 1, 4)} - {b""}
    mins = [dedup.EMPTY_BIN] * dedup.NUM_BINS
    for crc in map(zlib.crc32, shingles):
        mixed = (crc * 0x9E3779B1) & 0xFFFFFFFF
        mins[mixed & 127] = min(mins[mixed & 127], mixed >> 7)
    return tuple(mins), len(shingles)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ข่าวสั้น",  # under 8 characters: one shingle
        "กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคมเตือนภัยไซเบอร์" * 3,  # repeats: fewer shingles
        "ASEAN Digital Ministers' Meeting 2024 ประชุมรัฐมนตรีดิจิทัลอาเซียน",
        "●มาตรการ●ป้องกัน\uf70bการหลอกลวง",  # a bullet and a legacy-font glyph (corpus)
        "แจ้งเตือน 🚨 ภัยออนไลน์ 𝕏",  # beyond the BMP
    ],
)
def test_the_vectorised_minima_are_format_2s(text: str):
    assert dedup._minhash(text) == _format_2(text)
