"""PNG frames for prompts: encoded with zlib alone, hashed by their pixels for replay keys."""
from __future__ import annotations

import base64
import hashlib
import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA_URL_PREFIX = "data:image/png;base64,"


def png_bytes(rgb: np.ndarray, scale: int = 1, level: int = 9) -> bytes:
    """An 8-bit RGB PNG of `rgb` (H, W, 3) uint8, each pixel repeated `scale` times per axis."""
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {image.dtype} {image.shape}")
    if scale > 1:
        image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    height, width = image.shape[:2]
    # Filter type 0 on every row keeps decoding trivial (see pixels_of).
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, level))
            + _chunk(b"IEND", b""))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def data_url(png: bytes) -> str:
    return DATA_URL_PREFIX + base64.b64encode(png).decode("ascii")


def bytes_of_data_url(url: str) -> bytes:
    head, _, payload = url.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        return url.encode("utf-8")  # a remote URL: its text is its identity
    return base64.b64decode(payload)


def pixels_of(png: bytes) -> tuple[int, int, bytes] | None:
    """(width, height, RGB bytes) of a PNG written by `png_bytes`; None for any other PNG."""
    if not png.startswith(PNG_SIGNATURE):
        return None
    pos, header, idat = len(PNG_SIGNATURE), None, []
    while pos + 8 <= len(png):
        length, tag = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        pos += 12 + length
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif tag == b"IDAT":
            idat.append(data)
        elif tag == b"IEND":
            break
    if header is None or header[2:] != (8, 2, 0, 0, 0):
        return None
    width, height = header[:2]
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error:
        return None
    stride = 1 + 3 * width
    if len(raw) != stride * height or any(raw[y * stride] != 0 for y in range(height)):
        return None
    return width, height, b"".join(raw[y * stride + 1:(y + 1) * stride] for y in range(height))


def image_digest(url: str) -> str:
    """sha256 of an image's pixels (with its size), so another zlib build still hits a recording.

    Images that are not ours (or not decodable) fall back to the sha256 of their bytes.
    """
    blob = bytes_of_data_url(url)
    decoded = pixels_of(blob)
    if decoded is None:
        return hashlib.sha256(blob).hexdigest()
    width, height, pixels = decoded
    return hashlib.sha256(f"rgb8 {width}x{height}\n".encode() + pixels).hexdigest()
