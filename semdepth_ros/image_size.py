"""Width and height of PNG and JPEG data read from their headers, before anything is decoded.

A compressed image can claim any size: an 876 KB PNG can decode to a 30000x30000 picture (2.7 GB), and
`cv2.imdecode` has no limit of its own. The codec and the image-file reader ask here first and refuse
an image above the pixel limit before OpenCV allocates it. The same walk notices data cut short (no
PNG end chunk, no JPEG end-of-image marker), which OpenCV would otherwise report as noise on stderr.
rclpy- and cv2-free.
"""
from __future__ import annotations

from typing import NamedTuple

MAX_INPUT_PIXELS = 4096 * 3072          # 12.6 MP: above every common robot camera, far below a bomb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"
# Start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry height and width.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}   # markers without a length field


class HeaderError(ValueError):
    """PNG/JPEG data whose header is broken; ``truncated`` when the data simply stops too early."""

    def __init__(self, message: str, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


class EncodedSize(NamedTuple):
    format: str     # "png" or "jpeg"
    width: int
    height: int


def encoded_size(data: bytes | memoryview) -> EncodedSize | None:
    """Format and size of PNG or JPEG bytes; None for any other format (nothing is decoded).

    Raises HeaderError when a PNG/JPEG header is cut or corrupt, or the data lacks its end marker.
    """
    view = memoryview(data).cast("B")
    if bytes(view[:8]) == PNG_SIGNATURE:
        return _png_size(view)
    if bytes(view[:2]) == JPEG_SOI:
        return _jpeg_size(view)
    return None


def _png_size(view: memoryview) -> EncodedSize:
    """IHDR is the first chunk (PNG spec, 11.2.2): length, b'IHDR', width, height as big-endian u32."""
    if len(view) < 24:
        raise HeaderError(f"PNG data ends after {len(view)} bytes, inside its header", truncated=True)
    if bytes(view[12:16]) != b"IHDR":
        raise HeaderError("PNG data does not start with an IHDR chunk (corrupt)")
    width, height = int.from_bytes(view[16:20], "big"), int.from_bytes(view[20:24], "big")
    if bytes(view[33:]).rfind(b"IEND") < 0:      # after IHDR; data may trail the end chunk
        raise HeaderError(f"PNG data ({len(view)} bytes) has no end chunk: truncated", truncated=True)
    return EncodedSize("png", width, height)


def _jpeg_size(view: memoryview) -> EncodedSize:
    """Walk the marker segments (ITU T.81, Annex B) to the first start-of-frame: precision, height, width."""
    n, i = len(view), 2
    while True:
        if i >= n:
            raise HeaderError(f"JPEG data ends after {n} bytes, before its frame header", truncated=True)
        if view[i] != 0xFF:
            raise HeaderError(f"JPEG data has no marker at byte {i} (corrupt)")
        while i < n and view[i] == 0xFF:       # fill bytes may precede a marker
            i += 1
        if i >= n:
            continue
        marker = view[i]
        i += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):
            raise HeaderError("JPEG data reaches its image data without a frame header (corrupt)")
        if i + 2 > n:
            raise HeaderError(f"JPEG data ends after {n} bytes, inside a segment header", truncated=True)
        length = int.from_bytes(view[i:i + 2], "big")
        if length < 2:
            raise HeaderError(f"JPEG segment at byte {i} has length {length} (corrupt)")
        if marker in _JPEG_SOF:
            if i + 7 > n:
                raise HeaderError(f"JPEG data ends after {n} bytes, inside its frame header", truncated=True)
            height, width = int.from_bytes(view[i + 3:i + 5], "big"), int.from_bytes(view[i + 5:i + 7], "big")
            if bytes(view[i:]).rfind(_JPEG_EOI) < 0:  # scan data stuffs 0xFF, so no false end marker
                raise HeaderError(f"JPEG data ({n} bytes) has no end-of-image marker: truncated", truncated=True)
            return EncodedSize("jpeg", width, height)
        i += length


def pixel_limit_error(width: int, height: int, limit: int, setting: str) -> str | None:
    """The refusal text for an image above ``limit`` pixels (``setting`` names the knob), or None."""
    if width * height <= limit:
        return None
    return (f"image of {width}x{height} = {width * height / 1e6:.1f} MP exceeds the limit of {limit} pixels "
            f"({limit / 1e6:.1f} MP, {setting}); not decoded")
