"""Reading images and videos, writing videos atomically, and finding inputs on disk (mimetic.media)."""

from __future__ import annotations

import io
import os
import struct
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mimetic.errors import InputError
from mimetic.media.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from mimetic.media.discover import expand_inputs, kind_of
from mimetic.media.images import IMAGE_EXTENSIONS, MAX_PIXELS, is_image_path, read_image
from mimetic.media.video import VIDEO_EXTENSIONS, VideoWriter, iter_frames, probe_video

DATA = Path(__file__).parent / "data"
IMAGES = DATA / "images"
VIDEOS = DATA / "videos"
ASTRONAUT = IMAGES / "astronaut_nasa.jpg"
IMAGE_NAMES = ["astronaut_nasa", "biden_portrait", "multi_face", "obama_portrait", "single_face", "two_people"]


def _pil_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _save(tmp_path: Path, name: str, im: Image.Image, **kw) -> Path:
    p = tmp_path / name
    im.save(p, **kw)
    return p


def _assert_rgb(a: np.ndarray) -> None:
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert a.flags["C_CONTIGUOUS"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a token IDAT: tiny on disk, a bomb if decoded."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# ----------------------------------------------------------------------------------------------- images


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_read_fixture_images(name: str) -> None:
    path = IMAGES / f"{name}.jpg"
    a = read_image(path)
    _assert_rgb(a)
    np.testing.assert_array_equal(a, _pil_rgb(path))
    assert a.flags["WRITEABLE"]


def test_read_bytes_and_str_path_match_path() -> None:
    ref = read_image(ASTRONAUT)
    np.testing.assert_array_equal(read_image(ASTRONAUT.read_bytes()), ref)
    np.testing.assert_array_equal(read_image(str(ASTRONAUT)), ref)


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.jpg"
    with pytest.raises(InputError) as ei:
        read_image(p)
    assert ei.value.source == str(p) and ei.value.cause == "file not found"
    assert str(ei.value) == f"{p}: file not found"


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        read_image(p)
    with pytest.raises(InputError, match="empty"):
        read_image(b"")


def test_text_file_named_jpg(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n" * 20)
    with pytest.raises(InputError, match="not an image file") as ei:
        read_image(p)
    assert str(p) in str(ei.value) and "\n" not in str(ei.value)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = ASTRONAUT.read_bytes()
    p = tmp_path / "truncated.jpg"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt image data") as ei:
        read_image(p)
    assert str(p) in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(InputError, match=r"^<bytes>: truncated"):
        read_image(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"^cam\.jpg: truncated"):
        read_image(data[: len(data) // 2], name="cam.jpg")


def test_decompression_bomb_rejected_from_header(tmp_path: Path) -> None:
    p = tmp_path / "huge.png"
    p.write_bytes(_png_header_only(30000, 30000))
    assert p.stat().st_size < 1000
    with pytest.raises(InputError, match=r"30000x30000 = 900 megapixels, over the 100 megapixel limit") as ei:
        read_image(p)
    assert "max_pixels" in str(ei.value)
    assert MAX_PIXELS == 100_000_000
    # A caller-set limit applies to ordinary images too (and to arrays).
    with pytest.raises(InputError, match="512x512"):
        read_image(ASTRONAUT, max_pixels=1000)
    with pytest.raises(InputError, match="megapixel limit"):
        read_image(np.zeros((100, 100, 3), np.uint8), max_pixels=1000)


def test_exif_orientation_applied(tmp_path: Path) -> None:
    base = Image.fromarray(_pil_rgb(ASTRONAUT)[:, :300])  # 300 wide x 512 high: rotation swaps the shape
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    p = _save(tmp_path, "rotated.jpg", base, quality=95, exif=exif.tobytes())
    stored = _pil_rgb(p)  # the pixels as stored, not rotated
    a = read_image(p)
    assert stored.shape == (512, 300, 3) and a.shape == (300, 512, 3)
    np.testing.assert_array_equal(a, np.rot90(stored, k=-1))


def test_grey_and_one_bit(tmp_path: Path) -> None:
    grey = np.asarray(Image.open(ASTRONAUT).convert("L"))
    a = read_image(_save(tmp_path, "grey.png", Image.fromarray(grey)))
    _assert_rgb(a)
    for c in range(3):
        np.testing.assert_array_equal(a[..., c], grey)
    bits = Image.fromarray(grey).convert("1")
    b = read_image(_save(tmp_path, "bits.png", bits))
    _assert_rgb(b)
    assert set(np.unique(b).tolist()) <= {0, 255}
    np.testing.assert_array_equal(b[..., 0] == 255, np.asarray(bits))


def test_rgba_and_la_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200  # red-ish everywhere
    rgba[:, :10, 3] = 0  # transparent -> white
    rgba[:, 10:20, 3] = 255  # opaque -> the colour
    rgba[:, 20:, 3] = 128  # half -> halfway to white
    a = read_image(_save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA")))
    _assert_rgb(a)
    assert (a[:, :10] == 255).all()
    assert (a[:, 10:20] == [200, 0, 0]).all()
    np.testing.assert_allclose(a[0, 25], [228, 127, 127], atol=1)
    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    b = read_image(_save(tmp_path, "la.png", la))
    assert (b[:, :10] == 255).all() and (b[:, 10:20] == 200).all()
    # The same through the array path.
    np.testing.assert_array_equal(read_image(rgba), a)


def test_palette_with_transparency(tmp_path: Path) -> None:
    p_img = Image.new("P", (16, 8))
    p_img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    px = np.zeros((8, 16), np.uint8)
    px[:, 8:] = 1
    p_img.putdata(px.ravel().tolist())
    p_img.info["transparency"] = 0  # index 0 (red) is transparent
    a = read_image(_save(tmp_path, "pal.png", p_img, transparency=0))
    assert (a[:, :8] == 255).all()
    assert (a[:, 8:] == [0, 0, 255]).all()


def test_sixteen_bit_png_and_tiff(tmp_path: Path) -> None:
    arr = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    expected = ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    for name in ("deep.png", "deep.tif"):
        a = read_image(_save(tmp_path, name, Image.fromarray(arr)))
        _assert_rgb(a)
        np.testing.assert_array_equal(a[..., 0], expected)
        np.testing.assert_array_equal(a[..., 2], expected)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    ref = _pil_rgb(ASTRONAUT).astype(int)
    a = read_image(_save(tmp_path, "cmyk.jpg", Image.open(ASTRONAUT).convert("CMYK"), quality=95))
    _assert_rgb(a)
    assert np.abs(a - ref).mean() < 4


@pytest.mark.parametrize(("name", "kw"), [("x.webp", {"lossless": True}), ("x.tiff", {}), ("x.bmp", {}), ("x.png", {})])
def test_lossless_roundtrips(tmp_path: Path, name: str, kw: dict) -> None:
    ref = _pil_rgb(ASTRONAUT)[100:200, 50:250]
    a = read_image(_save(tmp_path, name, Image.fromarray(ref), **kw))
    _assert_rgb(a)
    np.testing.assert_array_equal(a, ref)


def test_arrays_are_normalised() -> None:
    rgb = _pil_rgb(ASTRONAUT)[:40, :60]
    grey = rgb[..., 0]
    np.testing.assert_array_equal(read_image(rgb), rgb)
    np.testing.assert_array_equal(read_image(grey), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(read_image(grey[..., None]), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(read_image(rgb.astype(np.uint16) * 257), rgb)
    np.testing.assert_array_equal(read_image(rgb.astype(np.float32) / 255.0), rgb)
    flipped = read_image(rgb[:, ::-1])  # a non-contiguous view
    _assert_rgb(flipped)
    np.testing.assert_array_equal(flipped, rgb[:, ::-1])
    rgba = np.concatenate([rgb, np.full((40, 60, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(read_image(rgba), rgb)
    with pytest.raises(InputError, match=r"^<array>: .*shape"):
        read_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InputError, match=r"^frame7: .*no pixels"):
        read_image(np.zeros((0, 4, 3), np.uint8), name="frame7")


def test_is_image_path() -> None:
    assert is_image_path("a/b/C.JPG") and is_image_path(Path("x.tiff")) and is_image_path("y.webp")
    assert not is_image_path("clip.mp4") and not is_image_path("README")
    assert {".jpg", ".png", ".bmp"} <= IMAGE_EXTENSIONS


# ----------------------------------------------------------------------------------------------- videos


def test_probe_fixture_videos() -> None:
    info = probe_video(VIDEOS / "smile_pexels.mp4")
    assert (info.width, info.height) == (640, 360)
    assert info.fps == pytest.approx(23.976, abs=0.01)
    assert info.frame_count == 472 and info.codec == "h264" and info.rotation == 0
    assert info.duration == pytest.approx(19.7, abs=0.1)
    mov = probe_video(VIDEOS / "face_then_noface.mov")
    assert (mov.width, mov.height, mov.frame_count, mov.codec) == (960, 540, 169, "hevc")


def test_smile_every_frame() -> None:
    frames = iter_frames(VIDEOS / "smile_pexels.mp4")
    assert not isinstance(frames, list)  # a lazy iterator
    fps = 24000 / 1001
    n = 0
    last_ts = -1.0
    for n, f in enumerate(frames, start=1):
        assert f.index == n - 1
        assert f.timestamp > last_ts
        assert abs(f.timestamp - f.index / fps) < 1 / fps
        last_ts = f.timestamp
        if f.index == 0:
            assert f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8 and f.image.flags["C_CONTIGUOUS"]
    assert n == 472


def test_stride_and_fps_sampling() -> None:
    path = VIDEOS / "smile_pexels.mp4"
    halves = [f.index for f in iter_frames(path, stride=2)]
    assert len(halves) == 236 and halves[:3] == [0, 2, 4]
    sampled = list(iter_frames(path, fps=8))
    assert abs(len(sampled) - 157) <= 2
    gaps = np.diff([f.timestamp for f in sampled])
    assert gaps.min() >= 1 / 8 - 1 / 23.976 - 1e-6 and gaps.max() <= 1 / 8 + 1 / 23.976 + 1e-6
    assert sampled[0].index == 0 and sampled[1].index == 3


def test_start_end_window() -> None:
    frames = list(iter_frames(VIDEOS / "single_face.mp4", start=1.0, end=2.0))
    assert len(frames) == 30
    assert frames[0].index == 30 and frames[0].timestamp == pytest.approx(1.0)
    assert all(1.0 - 1e-3 <= f.timestamp < 2.0 for f in frames)


@pytest.mark.parametrize(
    ("name", "count", "shape"),
    [
        ("single_face.mp4", 72, (360, 640, 3)),
        # The container lists 98 samples, but its edit list drops 3 leading (pre-roll) frames; FFmpeg decodes 95.
        ("no_face.mp4", 95, (540, 960, 3)),
        ("face_then_noface.mov", 169, (540, 960, 3)),
    ],
)
def test_fixture_frame_counts(name: str, count: int, shape: tuple[int, int, int]) -> None:
    n = 0
    for f in iter_frames(VIDEOS / name):
        assert f.image.shape == shape
        n += 1
    assert n == count


def test_iteration_can_stop_early() -> None:
    it = iter_frames(VIDEOS / "smile_pexels.mp4")
    first = next(it)
    assert first.index == 0
    it.close()  # closes the container


def test_read_ahead_gives_the_same_frames() -> None:
    path = VIDEOS / "single_face.mp4"
    plain = list(iter_frames(path, stride=3))
    ahead = list(iter_frames(path, stride=3, read_ahead=2))
    assert [f.index for f in ahead] == [f.index for f in plain] and len(plain) == 24
    assert [f.timestamp for f in ahead] == [f.timestamp for f in plain]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(ahead, plain))


def test_read_ahead_keeps_order_errors_and_stops_its_thread() -> None:
    import threading

    from mimetic.media.readahead import read_ahead

    assert list(read_ahead(range(100), 3)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise InputError("clip.mp4", "truncated")

    got = []
    with pytest.raises(InputError, match="clip.mp4: truncated"):
        for x in read_ahead(failing(), 1):
            got.append(x)
    assert got == [1, 2]  # what came before the error is delivered first

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    it = read_ahead(endless(), 2, name="test-read-ahead")
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]
    it.close()  # the consumer goes away: the producer stops and closes its source
    assert closed.wait(2.0)
    assert not any(t.name == "test-read-ahead" and t.is_alive() for t in threading.enumerate())
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="depth"):
            read_ahead([1], bad)


def test_read_ahead_reports_a_video_without_frames(tmp_path: Path) -> None:
    data = bytearray((VIDEOS / "single_face.mp4").read_bytes())
    mdat, moov = data.find(b"mdat") + 4, data.find(b"moov") - 4
    data[mdat:moov] = bytes(moov - mdat)
    p = tmp_path / "blank.mp4"
    p.write_bytes(bytes(data))
    with pytest.raises(InputError, match="video has no frames"):
        list(iter_frames(p, read_ahead=2))


def test_bad_arguments_raise_immediately() -> None:
    path = VIDEOS / "single_face.mp4"
    with pytest.raises(ValueError, match="stride"):
        iter_frames(path, stride=0)
    with pytest.raises(ValueError, match="fps"):
        iter_frames(path, fps=0)
    with pytest.raises(ValueError, match="fps"):
        iter_frames(path, fps=-2.5)
    with pytest.raises(ValueError, match="end"):
        iter_frames(path, start=3, end=1)
    with pytest.raises(ValueError, match="read_ahead"):
        iter_frames(path, read_ahead=-1)


def test_bad_video_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(InputError, match="file not found"):
        iter_frames(missing)
    with pytest.raises(InputError, match="file not found"):
        probe_video(missing)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty file \(0 bytes\)"):
        probe_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("definitely not a video\n" * 50)
    with pytest.raises(InputError, match="not a video or unsupported container") as ei:
        list(iter_frames(text))
    assert str(ei.value).startswith(str(text)) and "\n" not in str(ei.value)
    with pytest.raises(InputError, match="not a video"):
        probe_video(text)
    with pytest.raises(InputError, match="directory"):
        probe_video(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    p = tmp_path / "sound.mp4"  # a WAV under a video name: FFmpeg probes the content, not the name
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    with pytest.raises(InputError, match="no video stream"):
        probe_video(p)
    with pytest.raises(InputError, match="no video stream"):
        list(iter_frames(p))


def test_video_without_decodable_frames(tmp_path: Path) -> None:
    # A valid MP4 (header, index, video stream) whose sample data has been zeroed: nothing decodes.
    data = bytearray((VIDEOS / "single_face.mp4").read_bytes())
    mdat, moov = data.find(b"mdat") + 4, data.find(b"moov") - 4
    assert 0 < mdat < moov
    data[mdat:moov] = bytes(moov - mdat)
    p = tmp_path / "blank.mp4"
    p.write_bytes(bytes(data))
    assert probe_video(p).frame_count == 72
    it = iter_frames(p)  # opening is fine; the error comes when iteration finds nothing
    with pytest.raises(InputError, match="video has no frames") as ei:
        list(it)
    assert str(ei.value).startswith(str(p))


def test_videowriter_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.mp4"
    frames = []
    for i in range(10):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :32] = (220, 30, 30)
        img[:, 32:] = (30, 30, 220)
        img[i : i + 4] = 255
        frames.append(img)
    with VideoWriter(out, 10) as w:
        for img in frames:
            w.write(img)
    assert sorted(os.listdir(out.parent)) == ["out.mp4"]
    info = probe_video(out)
    assert (info.width, info.height, info.fps, info.frame_count) == (64, 48, 10.0, 10)
    back = list(iter_frames(out))
    assert len(back) == 10
    for i, f in enumerate(back):
        assert f.image.shape == (48, 64, 3)
        assert f.timestamp == pytest.approx(i / 10)
        assert np.abs(f.image[30:, 8].astype(int) - [220, 30, 30]).max() < 25
        assert np.abs(f.image[30:, 56].astype(int) - [30, 30, 220]).max() < 25


def test_videowriter_odd_size_is_padded(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 25) as w:
        for _ in range(3):
            w.write(np.full((47, 63, 3), 128, np.uint8))
        with pytest.raises(ValueError, match="63x47"):
            w.write(np.zeros((48, 64, 3), np.uint8))
    info = probe_video(out)
    assert (info.width, info.height) == (64, 48)


def test_videowriter_is_atomic(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(out, 10) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            assert os.listdir(tmp_path) != []  # the temporary file exists meanwhile, hidden
            assert not out.exists()
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    # An existing file survives a failed rewrite untouched.
    out.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 10) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("again")
    assert out.read_bytes() == b"previous" and os.listdir(tmp_path) == ["clip.mp4"]
    # Closing with no frames saves nothing.
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "nothing.mp4", 10):
            pass
    assert os.listdir(tmp_path) == ["clip.mp4"]


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    p = tmp_path / "portrait.mp4"
    img = np.zeros((48, 64, 3), np.uint8)
    img[:16, :16] = 255  # a white block top-left, as stored
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)  # display: rotate 90 degrees counter-clockwise (as phones do)
        for i in range(3):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, 10)
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    info = probe_video(p)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)
    frames = list(iter_frames(p))
    assert len(frames) == 3
    assert frames[0].image.shape == (64, 48, 3)
    assert np.abs(frames[0].image.astype(int) - np.rot90(img, 1)).max() < 30


def test_video_extensions() -> None:
    assert {".mp4", ".mov", ".mkv", ".webm"} <= VIDEO_EXTENSIONS


# ----------------------------------------------------------------------------------------------- atomic


def test_atomic_writes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.json"
    atomic_write_text(target, '{"é": 1}\n')
    assert target.read_text(encoding="utf-8") == '{"é": 1}\n'
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert os.listdir(target.parent) == ["out.json"]


def test_atomic_path_success_and_failure(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".csv" and tmp != target
        tmp.write_text("x\n")
        assert not target.exists()
    assert target.read_text() == "x\n"
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyError("stop")
    assert target.read_text() == "x\n"
    assert os.listdir(tmp_path) == ["table.csv"]


# ----------------------------------------------------------------------------------------------- discover


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_expand_folder_natural_order_and_hidden(tmp_path: Path) -> None:
    root = tmp_path / "shots"
    for rel in ["img10.jpg", "img2.PNG", "img1.jpg", "clip.mov", "notes.txt", ".hidden.jpg", "sub/a.mp4",
                ".cache/b.jpg", "sub/deeper/c.webp"]:
        _touch(root / rel)
    paths, errors = expand_inputs([root])
    assert errors == []
    assert [p.relative_to(root).as_posix() for p in paths] == [
        "clip.mov", "img1.jpg", "img2.PNG", "img10.jpg", "sub/a.mp4", "sub/deeper/c.webp"
    ]
    flat, _ = expand_inputs([root], recursive=False)
    assert [p.name for p in flat] == ["clip.mov", "img1.jpg", "img2.PNG", "img10.jpg"]


def test_expand_files_globs_missing_and_duplicates(tmp_path: Path) -> None:
    a = _touch(tmp_path / "x" / "a.jpg")
    b = _touch(tmp_path / "x" / "b.jpg")
    odd = _touch(tmp_path / "x" / "data.bin")
    deep = _touch(tmp_path / "x" / "y" / "z.png")
    items = [
        odd,  # an explicit file is kept whatever its extension
        str(tmp_path / "x" / "*.jpg"),
        a,  # duplicate: dropped
        str(tmp_path / "**" / "*.png"),
        tmp_path / "x",  # folder: only a new file (none) is added
        str(tmp_path / "missing.jpg"),
        str(tmp_path / "nothing*.mp4"),
    ]
    paths, errors = expand_inputs(items)
    assert paths == [odd, a, b, deep]
    assert [(e.source, e.cause) for e in errors] == [
        (str(tmp_path / "missing.jpg"), "file not found"),
        (str(tmp_path / "nothing*.mp4"), "no files match this pattern"),
    ]


def test_kind_of() -> None:
    assert kind_of("a.JPEG") == "image" and kind_of(Path("b.mkv")) == "video" and kind_of("c.txt") == "unknown"
    assert kind_of(VIDEOS / "face_then_noface.mov") == "video"


# ----------------------------------------------------------------------------------------------- hostile inputs (#18)


def test_fifo_and_devices_are_not_regular_files(tmp_path: Path) -> None:
    """R7: a FIFO or /dev/zero is refused by its kind before it is opened (it used to read as "empty file")."""
    from badinputs import make_bad_inputs

    bad = make_bad_inputs(tmp_path)
    specials = [bad[k][0] for k in ("fifo", "device") if k in bad]
    if not specials:
        pytest.skip("no FIFO or /dev/zero here")
    for p in specials:
        for reader in (read_image, probe_video, lambda q: list(iter_frames(q))):
            with pytest.raises(InputError) as ei:
                reader(p)
            assert ei.value.cause.startswith("not a regular file: "), ei.value.cause
        paths, errors = expand_inputs([p])
        assert paths == [] and [e.cause.split(":")[0] for e in errors] == ["not a regular file"]
    if "fifo" in bad:  # a FIFO found by a pattern is listed, then refused when read
        assert expand_inputs([str(tmp_path / "pipe.*")])[0] == [bad["fifo"][0]]
        with pytest.raises(InputError, match=r"not a regular file: a named pipe \(FIFO\)"):
            read_image(bad["fifo"][0])


def test_glob_follows_folder_links_once_and_stops_at_loops(tmp_path: Path) -> None:
    """R2: three links back up the tree (`ln -s .. fan/sub/l1`) made `fan/**/*.jpg` enumerate forever; a link to
    a folder outside is still followed, and a file reached twice is kept once."""
    import signal

    from badinputs import make_link_loops

    fan = make_link_loops(tmp_path)
    outside = tmp_path / "outside"
    _touch(outside / "other.png")
    os.symlink(outside, fan / "ext")
    os.symlink(outside, fan / "sub" / "ext2")  # the same real folder by a second link

    def endless(*_):
        raise TimeoutError("the walk did not end")

    old = signal.signal(signal.SIGALRM, endless)
    signal.alarm(20)
    try:
        for pattern in (str(fan / "**" / "*.*"), str(fan / "**"), str(fan)):
            notes: list[str] = []
            paths, errors = expand_inputs([pattern], notes=notes)
            assert errors == []
            assert sorted(p.name for p in paths) == ["other.png", "single_face.jpg"], (pattern, paths)
            loops = sorted(n.split(":")[0] for n in notes)
            assert loops == [str(fan / "sub" / f"l{i}") for i in (1, 2, 3)], notes
            assert all("loop" in n for n in notes)
        relative = os.path.relpath(fan, Path.cwd())
        assert len(expand_inputs([os.path.join(relative, "**", "*.jpg")])[0]) == 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_long_names_get_short_temporary_names(tmp_path: Path) -> None:
    """R6: a 240-byte name's temporary output name (".name.xxxxxxxx.partial.json") passed 255 bytes."""
    from badinputs import long_name

    from mimetic.media.files import NAME_MAX, fit_name

    for n in (240, 250, 255):
        target = tmp_path / long_name(n, suffix=".json")
        atomic_write_text(target, "{}\n")
        assert target.read_text() == "{}\n"
    assert all(len(p.name.encode()) <= NAME_MAX for p in tmp_path.iterdir()) and len(os.listdir(tmp_path)) == 3
    short = "face"
    assert fit_name(short) == short
    a, b = fit_name("é" * 200 + "a"), fit_name("é" * 200 + "b")
    assert a != b and len(a.encode()) <= NAME_MAX and a == fit_name("é" * 200 + "a") and a.startswith("é" * 100)
    assert len(fit_name("x" * 1000, 100).encode()) == 100


def test_short_writes_are_never_published(tmp_path: Path) -> None:
    """R4: on a full disk Pillow's encoder cuts the file short without an error, and it used to be moved into place.
    The file-size limit stands in for the full disk (a real write() cut short, then EFBIG)."""
    from badinputs import file_size_limit

    from mimetic.media.images import write_image
    from mimetic.table import write_table

    rgb = read_image(IMAGES / "two_people.jpg")
    target = tmp_path / "overlay.jpg"
    encoded = io.BytesIO()
    Image.fromarray(rgb).save(encoded, format="JPEG", quality=90)
    with file_size_limit(len(encoded.getvalue()) - 1):  # only the last write is cut short, by one byte: Pillow
        with pytest.raises(OSError):                     # (13.0) saving to the file itself raises nothing then
            write_image(rgb, target)
    assert not target.exists()
    target.write_bytes(b"old")
    with file_size_limit(64_000):
        with pytest.raises(OSError) as ei:
            write_image(rgb, target)
        assert ei.value.filename == str(target)
        with pytest.raises(OSError):
            atomic_write_bytes(tmp_path / "blob.bin", b"\1" * 100_000)
        with pytest.raises(OSError):
            with VideoWriter(tmp_path / "clip.mp4", 10, codec="mpeg4") as w:
                for _ in range(30):
                    w.write(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8))
        import pandas as pd

        with pytest.raises(OSError):
            write_table(pd.DataFrame({"x": np.arange(20_000)}), tmp_path / "t.csv")
        small = write_image(rgb[:64, :64], tmp_path / "small.png")  # what fits is written
    assert target.read_bytes() == b"old"  # the earlier file is untouched
    assert sorted(os.listdir(tmp_path)) == ["overlay.jpg", "small.png"]  # no partial or temporary files
    np.testing.assert_array_equal(read_image(small), rgb[:64, :64])


def test_a_cut_off_mp4_has_one_cause_for_the_cli_and_the_web(tmp_path: Path, caplog) -> None:
    """R7: the CLI called a truncated MP4 "not a video"; the web said truncated. Both now use media.container."""
    from mimetic.media.container import damage
    from mimetic.web.errors import ApiError
    from mimetic.web.videocheck import check_video

    data = (VIDEOS / "single_face.mp4").read_bytes()  # index ('moov') at the end: the cut loses it
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    cause = damage(cut)
    assert cause == (f"truncated or corrupt video: the 'mdat' box needs {data.find(b'moov') - 4:,} bytes but the "
                     f"file has {len(data) // 2:,}: the file is truncated")
    for reader in (probe_video, lambda p: list(iter_frames(p))):
        with pytest.raises(InputError) as ei:
            reader(cut)
        assert ei.value.cause == cause
    with pytest.raises(ApiError) as web:
        check_video(cut, label="cut.mp4", max_seconds=60)
    assert web.value.status == 422 and web.value.message == f"cut.mp4: {cause}"
    assert damage(VIDEOS / "single_face.mp4") is None and damage(IMAGES / "astronaut_nasa.jpg") is None

    # index first ("faststart"): the frames before the cut are decoded, with the same cause as a warning
    data = (VIDEOS / "smile_pexels.mp4").read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="mimetic.media.video"):
        frames = sum(1 for _ in iter_frames(half))
    assert 0 < frames < 472
    assert any(damage(half) in r.getMessage() for r in caplog.records), caplog.records
