"""Bad inputs, made on the fly from the real fixtures: every kind the issues list (#18: markup in paths, FIFOs and
devices, a cut-off MP4), and good inputs with hostile names or folders (long names, rich markup, link loops) that
must work."""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import zlib
from pathlib import Path

import pytest

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

    # A path that reads as rich markup ("[/x]" closes a tag that was never opened): printed literally.
    (folder / "b[").mkdir(exist_ok=True)
    p = folder / "b[" / "x]bad.jpg"
    p.write_bytes(b"x")
    out["markup_path"] = (p, "not an image")
    # A MP4 cut off in the middle (its 'moov' index lost): the same cause as the web's upload check.
    p = folder / "cut.mp4"
    p.write_bytes(bytes(video[: len(video) // 2]))
    out["truncated_mp4"] = (p, "truncated")
    # Not regular files: reading one could block (a FIFO) or never end (/dev/zero).
    if hasattr(os, "mkfifo"):
        p = folder / "pipe.jpg"
        if not p.exists():
            os.mkfifo(p)
        out["fifo"] = (p, "not a regular file")
    if Path("/dev/zero").exists():
        out["device"] = (Path("/dev/zero"), "not a regular file")
    return out


def long_name(n_bytes: int, suffix: str = ".jpg", char: str = "a") -> str:
    """A file name of exactly ``n_bytes`` UTF-8 bytes (``char`` repeated, then ``suffix``)."""
    room = n_bytes - len(suffix.encode())
    width = len(char.encode())
    assert room % width == 0, (n_bytes, char)
    return char * (room // width) + suffix


def make_hostile_good_inputs(folder: Path) -> dict[str, Path]:
    """{kind: path} of good photos whose names or folders are hostile; each must be analysed, once."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = (IMAGES / "astronaut_nasa.jpg").read_bytes()
    out: dict[str, Path] = {}
    for kind, name in [("markup_name", "[red]tag [bold]x.jpg"),  # used to print as "tag x.jpg"
                       ("long_name", long_name(240)),  # its temporary output name used to pass 255 bytes
                       ("longest_name", long_name(255, char="\u00e9", suffix=".jpeg")),  # its outputs would too
                       ]:
        p = folder / name
        p.write_bytes(jpeg)
        out[kind] = p
    return out


def make_link_loops(folder: Path) -> Path:
    """``folder/fan/sub/single_face.jpg`` and three folder links in ``sub`` back to ``fan`` (``ln -s ..``): a
    ``fan/**/*.jpg`` that follows them without noticing the loop never ends. Returns ``folder/fan``."""
    sub = folder / "fan" / "sub"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / "single_face.jpg").write_bytes((IMAGES / "single_face.jpg").read_bytes())
    for name in ("l1", "l2", "l3"):
        if not (sub / name).is_symlink():
            os.symlink("..", sub / name)
    return folder / "fan"


@contextlib.contextmanager
def file_size_limit(n_bytes: int):
    """A full disk, as the writer sees it, without root or a tmpfs: ``RLIMIT_FSIZE`` makes the kernel cut a
    ``write()`` short at ``n_bytes`` and fail the next one (EFBIG), in this process only, for the block.
    ``SIGXFSZ`` (which would kill the process) is ignored meanwhile. Skips the test where there is no such limit."""
    resource = pytest.importorskip("resource")
    if not hasattr(signal, "SIGXFSZ"):
        pytest.skip("no SIGXFSZ on this platform")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
