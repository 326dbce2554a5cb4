"""Logos: PNG or JPEG, recognised by their content (never their name), at most 100 KB as
Cognito allows. SVG is refused: it can carry script."""
from __future__ import annotations

import struct

from ..errors import InvalidInput

MAX_LOGO_BYTES = 100 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096


def check_logo(data: bytes) -> str:
    """The logo's media type, or :class:`InvalidInput` saying why it is refused."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(f"logo is larger than {MAX_LOGO_BYTES // 1024} KB")
    if data.startswith(PNG_MAGIC):
        width, height = _png_size(data)
        kind = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        kind = "image/jpeg"
    else:
        raise InvalidInput("logo refused: only PNG and JPEG images are accepted (checked by content)")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise InvalidInput(f"logo refused: dimensions {width}x{height} are out of range")
    return kind


def _png_size(data: bytes) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR" or not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        raise InvalidInput("logo refused: not a complete PNG image")
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the JPEG markers to the frame header (SOFn)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
                break
            return width, height
        i += 2 + length
    raise InvalidInput("logo refused: not a complete JPEG image")
