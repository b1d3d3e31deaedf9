"""Bad inputs, made on the fly from the real fixtures: every kind the issue lists."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from testdata import IMAGES, VIDEOS


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height with a token IDAT: tiny on disk, a bomb if decoded."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """{kind: (path, words the error must contain)}. ``missing`` is not created."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = (IMAGES / "astronaut_nasa.jpg").read_bytes()
    out: dict[str, tuple[Path, str]] = {}

    p = folder / "missing.jpg"
    out["missing"] = (p, "not found")
    p = folder / "truncated.jpg"
    p.write_bytes(jpeg[: len(jpeg) // 2])
    out["truncated"] = (p, "truncated")
    p = folder / "notes.jpg"
    p.write_text("shopping list: eggs, milk\n" * 20)
    out["text_as_jpg"] = (p, "not an image")
    p = folder / "empty.jpg"
    p.write_bytes(b"")
    out["zero_bytes"] = (p, "empty")
    p = folder / "huge.png"
    p.write_bytes(png_header_only(30000, 30000))
    out["huge"] = (p, "megapixel")

    video = bytearray((VIDEOS / "single_face.mp4").read_bytes())
    blank = bytearray(video)
    mdat, moov = blank.find(b"mdat") + 4, blank.find(b"moov") - 4
    blank[mdat:moov] = bytes(moov - mdat)
    p = folder / "blank.mp4"
    p.write_bytes(bytes(blank))
    out["no_frames"] = (p, "no frames")
    # An AVI whose FourCC names a codec FFmpeg has no decoder for.
    import av
    import numpy as np

    p = folder / "oddcodec.avi"
    with av.open(str(p), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 60 * i, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    data = p.read_bytes()
    assert b"FMP4" in data
    p.write_bytes(data.replace(b"FMP4", b"ZZZ9"))
    out["unsupported_codec"] = (p, "codec")
    return out
