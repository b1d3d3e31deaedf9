"""Reading still images into C-contiguous uint8 RGB arrays (Pillow), with clear errors for bad inputs, and
writing them (atomically, short writes detected)."""

from __future__ import annotations

import io
import os
import struct
import threading
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mimetic.errors import InputError
from mimetic.media.files import check_input_file

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp"}

#: Largest image (width x height) read_image decodes by default; a guard against decompression bombs.
MAX_PIXELS = 100_000_000

_WHITE = 255.0
# Pillow's own decompression-bomb check runs inside Image.open, before we can see the size. It is switched off
# for the (fast, header-only) open under this lock so that our own check, with the caller's limit and a message
# naming the size, applies; Pillow's global limit is restored straight after.
_PIL_LIMIT_LOCK = threading.Lock()
# Errors Pillow raises for damaged data while decoding.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` has an image extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(
    source: str | os.PathLike[str] | bytes | np.ndarray,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Read an image file, encoded bytes or an array into an (H, W, 3) uint8 RGB C-contiguous array.

    EXIF orientation is applied; grey, 1-bit, palette, CMYK and 16-bit/float images are converted to 8-bit RGB;
    transparent images are composited on white. Arrays are taken as RGB(A)/grey already: (H, W), (H, W, 1),
    (H, W, 3) or (H, W, 4), uint8, uint16 or float in 0..1. ``name`` is the source name used in error messages
    (defaults: the path, ``"<bytes>"``, ``"<array>"``). Decoded images come back writeable; an array that is
    already contiguous uint8 RGB is returned as is (shared, not copied). Raises :class:`InputError` for anything
    unusable, including images over ``max_pixels`` (checked from the header, before decoding).
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name or "<array>", max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        if len(source) == 0:
            raise InputError(label, "empty data (0 bytes)")
        return _decode(io.BytesIO(bytes(source)), label, max_pixels)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"read_image: expected a path, bytes or numpy array, got {type(source).__name__}")
    path, label = check_input_file(source, "an image file", name)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise InputError(label, f"cannot open file ({exc.strerror or exc})") from None
    with fh:
        return _decode(fh, label, max_pixels)


def _decode(fp: IO[bytes], label: str, max_pixels: int) -> np.ndarray:
    """Open (header only), check the size, then decode fully and convert."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file must fail, never come back half grey
    try:
        with _PIL_LIMIT_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                im = Image.open(fp)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError:
        raise InputError(label, "not an image file (cannot identify format)") from None
    except Image.DecompressionBombError as exc:
        raise InputError(label, f"image too large ({exc})") from None
    except _DECODE_ERRORS as exc:
        raise InputError(label, f"corrupt image header: {_describe(exc)}") from None
    with im:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise InputError(label, f"image has no pixels ({w}x{h})")
        _check_pixels(label, w, h, max_pixels)
        if Image.MAX_IMAGE_PIXELS is not None and w * h > Image.MAX_IMAGE_PIXELS:
            # Pillow re-checks sizes while loading some formats (TIFF tiles, GIF frames); its (global) limit is
            # raised, only when an allowed image exceeds it, so that it never rejects what the caller allowed.
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            im.load()
            im = _exif_transpose(im)
            out = _pil_to_rgb(im)
            return out if out.flags.writeable else out.copy()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(label, f"image too large ({exc})") from None
        except MemoryError:
            raise InputError(label, f"not enough memory to decode a {w}x{h} image") from None
        except _DECODE_ERRORS as exc:
            raise InputError(label, f"truncated or corrupt image data: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_pixels(label: str, w: int, h: int, max_pixels: int) -> None:
    if w * h > max_pixels:
        raise InputError(
            label,
            f"image is {w}x{h} = {w * h / 1e6:g} megapixels, over the {max_pixels / 1e6:g} megapixel limit "
            "(raise it with max_pixels)",
        )


def _exif_transpose(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; an unreadable EXIF block is ignored (the pixels are still fine)."""
    try:
        out = ImageOps.exif_transpose(im)
    except (SyntaxError, ValueError, struct.error, KeyError, TypeError, OSError):
        return im
    return out if out is not None else im


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any common mode to (H, W, 3) uint8 RGB."""
    mode = im.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if mode == "1":
        return _array_to_rgb_unchecked(np.asarray(im.convert("L")))
    if mode == "L":
        return _array_to_rgb_unchecked(np.asarray(im))
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _array_to_rgb_unchecked(np.asarray(im))
    if mode == "P":
        has_alpha = "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA"
        im = im.convert("RGBA" if has_alpha else "RGB")
        return _pil_to_rgb(im)
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        if mode in ("La", "RGBa", "PA"):  # premultiplied / palette+alpha: let Pillow unpack to straight RGBA
            im = im.convert("RGBA")
        arr = np.asarray(im)
        if arr.ndim == 3 and arr.shape[2] == 2:  # LA -> grey + alpha
            arr = np.concatenate([np.repeat(arr[..., :1], 3, axis=2), arr[..., 1:]], axis=2)
        return _array_to_rgb_unchecked(arr)
    # CMYK, YCbCr, LAB, HSV, RGBX, ...: Pillow knows how to get to RGB.
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray, label: str, max_pixels: int) -> np.ndarray:
    """Validate a caller's array, then normalise it like a decoded image."""
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise InputError(label, f"array of shape {arr.shape} is not an image (expected HxW, HxWx1, HxWx3 or HxWx4)")
    h, w = arr.shape[:2]
    if h == 0 or w == 0:
        raise InputError(label, f"image has no pixels ({w}x{h})")
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(label, f"array dtype {arr.dtype} is not an image type (expected uint8, uint16 or float)")
    _check_pixels(label, w, h, max_pixels)
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise InputError(label, "float image contains NaN or infinite values")
    return _array_to_rgb_unchecked(arr)


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale samples to uint8: uint16 by 1/257, float 0..1 by 255, bool to 0/255, wider ints by their range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # uint16, either byte order
        return ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        a = arr.astype(np.float32, copy=False)
        hi = float(a.max()) if a.size else 0.0
        if hi > 1.5:  # clearly not 0..1: 8-bit or 16-bit sample values (e.g. a Pillow "F" TIFF)
            a = a / (257.0 if hi > 255.0 else 1.0) / 255.0
        return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    # Other integer types (Pillow mode "I" is int32): values up to 255 are 8-bit, up to 65535 16-bit.
    a = arr.astype(np.int64)
    hi = int(a.max()) if a.size else 0
    if hi <= 255:
        return np.clip(a, 0, 255).astype(np.uint8)
    if hi <= 65535:
        return ((np.clip(a, 0, 65535) + 128) // 257).astype(np.uint8)
    return np.rint(np.clip(a, 0, None) * (255.0 / hi)).astype(np.uint8)


def _array_to_rgb_unchecked(arr: np.ndarray) -> np.ndarray:
    """(H, W[, 1|2|3|4]) samples of any supported dtype -> (H, W, 3) uint8 RGB, alpha composited on white."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if channels == 4:
        rgb, alpha = arr[..., :3], arr[..., 3:]
        if np.issubdtype(alpha.dtype, np.floating):
            a = np.clip(alpha.astype(np.float32), 0.0, 1.0)
        else:
            a = _to_uint8(alpha).astype(np.float32) / 255.0
        colour = _to_uint8(rgb).astype(np.float32)
        out = np.rint(colour * a + _WHITE * (1.0 - a)).astype(np.uint8)
        return np.ascontiguousarray(out)
    out8 = _to_uint8(arr)
    if channels == 1:
        out8 = np.repeat(out8, 3, axis=2)
    return np.ascontiguousarray(out8, dtype=np.uint8)


def write_image(rgb: np.ndarray, path: str | os.PathLike[str], *, quality: int = 90) -> Path:
    """Write an (H, W, 3) uint8 RGB array as JPEG (``.jpg``/``.jpeg``) or PNG (any other name), atomically.

    The picture is encoded in memory and written with :func:`mimetic.media.atomic.atomic_write_bytes`: Pillow's
    encoders write straight to the file descriptor and ignore a short write, so on a full disk a picture saved
    by Pillow itself could be cut off and still be published. Here a full disk raises ``OSError`` and nothing
    is left at ``path`` (or its earlier content is). Folders are created. Returns ``path``.
    """
    from mimetic.media.atomic import atomic_write_bytes

    path = Path(path)
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb)).save(buf, format="JPEG" if jpeg else "PNG",
                                          **({"quality": quality} if jpeg else {}))
    atomic_write_bytes(path, buf.getvalue())
    return path
