"""Reading and writing images and kernels.

Images are PNG, JPEG or TIFF, 8 or 16 bit, gray or colour (alpha is dropped); they load as float32
``(1, C, H, W)`` tensors in [0, 1] with an :class:`ImageInfo` that lets :func:`write_image` give the
result back in the same bit depth. PNG and TIFF writes are lossless: ``read(write(x)) == round(x q) / q``
with ``q = 2**bits - 1``. Kernels are ``.png`` (a picture, normalised to sum 1 on reading), ``.npy`` or
``.safetensors``. Every write goes to a temporary file in the target folder first and is moved into
place with :func:`os.replace`, so a failed write never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deblur.errors import InputError

__all__ = [
    "ImageInfo",
    "atomic_write",
    "check_image",
    "read_image",
    "read_kernel",
    "write_image",
    "write_kernel",
]

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
_KERNEL_SUFFIXES = (".png", ".npy", ".safetensors")
_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass(frozen=True)
class ImageInfo:
    """What was read: ``bit_depth`` 8 or 16 (32 for float TIFF), ``channels`` 1 or 3, ``format``."""

    bit_depth: int = 8
    channels: int = 1
    format: str = "PNG"


def check_image(x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` unchanged if it has only finite values, else raise :class:`InputError`."""
    if not bool(torch.isfinite(x).all()):
        raise InputError("image has non-finite pixels")
    return x


def _format_of(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"unsupported image type {path.suffix or '(none)'!r} for {path}: use {', '.join(_FORMATS)}"
        )
    return fmt


def _kernel_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _KERNEL_SUFFIXES:
        raise InputError(
            f"unsupported kernel type {suffix or '(none)'!r} for {path}: use {', '.join(_KERNEL_SUFFIXES)}"
        )
    return suffix


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file not found: {p}")
    return p


# --------------------------------------------------------------------------------------------- reading


def _pil_png16(im, rawmode: str) -> np.ndarray:
    """Exact samples of a 16-bit colour (or gray + alpha) PNG, which Pillow truncates to 8 bits.

    Pillow's PNG decoder undoes the scanline filters and interlacing for any raw mode with the right
    bits per pixel; decoding the file twice, once keeping the high and once the low byte of each
    big-endian sample (``RGB;16B`` / ``RGB;16L``), gives the 16-bit values. Gray + alpha (``LA;16B``,
    32 bits per pixel) is decoded as raw ``RGBA`` bytes ``(Lhi, Llo, Ahi, Alo)``.
    """
    from PIL import Image

    def decode(raw: str) -> np.ndarray:
        with Image.open(im.filename) as again:
            again.tile = [again.tile[0]._replace(args=raw)]
            again.load()
            return np.asarray(again).astype(np.uint16)

    if rawmode == "LA;16B":
        b = decode("RGBA")
        return b[..., 0] * 256 + b[..., 1]
    hi, lo = decode(rawmode), decode(rawmode.replace(";16B", ";16L"))
    return (hi * 256 + lo)[..., :3]


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        rawmode = im.tile[0].args if im.format == "PNG" and len(im.tile) == 1 else None
        if rawmode in ("RGB;16B", "RGBA;16B", "LA;16B"):
            return _pil_png16(im, rawmode)
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im)
            if a.min() < 0 or a.max() > 65535:
                raise InputError(f"unsupported 32-bit integer image {path}")
            return a.astype(np.uint16)
        if im.mode in ("1", "L", "LA", "La"):
            return np.asarray(im.convert("L"))
        return np.asarray(im.convert("RGB"))


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not len(tif.pages):
            raise InputError(f"cannot read image {path}: no image in the TIFF file")
        page = tif.pages[0]
        a, axes = page.asarray(), page.axes
    if "S" in axes:
        a = np.moveaxis(a, axes.index("S"), -1)
    if a.ndim == 3 and a.shape[-1] in (2, 4):  # drop alpha
        a = a[..., : a.shape[-1] - 1]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3):
        raise InputError(f"unsupported TIFF layout {axes} {a.shape} in {path}")
    return a


def _to_tensor(a: np.ndarray, path: Path) -> tuple[torch.Tensor, int]:
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    if a.dtype == np.uint8:
        bits, x = 8, a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        bits, x = 16, a.astype(np.float32) / 65535.0
    elif a.dtype.kind == "f":
        bits, x = 32, a.astype(np.float32)
    else:
        raise InputError(f"unsupported sample type {a.dtype} in {path}")
    x = x[..., None] if x.ndim == 2 else x
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0)))[None], bits


def read_image(path: str | Path) -> tuple[torch.Tensor, ImageInfo]:
    """Read an image as a float32 ``(1, C, H, W)`` tensor in [0, 1] (C = 1 or 3) and its :class:`ImageInfo`.

    Raises:
        InputError: missing file, unsupported extension, or an unreadable or corrupt image.
    """
    p = _existing(path)
    fmt = _format_of(p)
    try:
        a = _read_tiff(p) if fmt == "TIFF" else _read_pil(p)
    except InputError:
        raise
    except Exception as exc:  # decoders raise many types (OSError, SyntaxError, ValueError, ...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read image {p}: {reason}") from exc
    x, bits = _to_tensor(a, p)
    check_image(x)
    if bits == 32 and (x.min() < 0 or x.max() > 1):
        raise InputError(f"float image {p} has values outside [0, 1]")
    return x, ImageInfo(bit_depth=bits, channels=x.shape[1], format=fmt)


# --------------------------------------------------------------------------------------------- writing


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix); move it into place if the block succeeds.

    The temporary file is removed on failure; an ``OSError`` becomes an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _png16_rgb(path: Path, a: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint16 array as a 16-bit truecolour PNG (Pillow cannot).

    Every scanline uses filter 2 ("Up": byte minus the byte above, modulo 256), then zlib.
    """
    h, w, _ = a.shape
    rows = np.ascontiguousarray(a, dtype=">u2").view(np.uint8).reshape(h, w * 6)
    up = np.diff(rows, axis=0, prepend=np.zeros((1, w * 6), np.uint8))
    raw = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        fh.write(chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _as_hwc(x: torch.Tensor) -> np.ndarray:
    """``(H, W)``, ``(C, H, W)`` or ``(1, C, H, W)`` tensor -> float64 ``(H, W)`` or ``(H, W, 3)``."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise InputError(f"write_image writes one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise InputError(f"image must be (1, C, H, W) with C = 1 or 3, got {tuple(x.shape)}")
    a = x.detach().to("cpu", torch.float64).numpy()
    return a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)


def write_image(path: str | Path, x: torch.Tensor, bit_depth: int = 8) -> Path:
    """Write ``x`` (values clipped to [0, 1], rounded to ``bit_depth`` bits) to PNG, JPEG or TIFF.

    ``bit_depth`` is 8, 16 or 32 (float32 samples, TIFF only; PNG then stores 16 bits). JPEG is always
    8-bit (quality 95). Returns the path.
    """
    p = Path(path)
    fmt = _format_of(p)
    if bit_depth not in (8, 16, 32):
        raise InputError(f"bit depth must be 8, 16 or 32, got {bit_depth}")
    check_image(x)
    bit_depth = {"JPEG": 8, "PNG": min(bit_depth, 16)}.get(fmt, bit_depth)
    a = np.clip(_as_hwc(x), 0.0, 1.0)
    if bit_depth == 32:
        a = a.astype(np.float32)
    else:
        a = np.rint(a * (2**bit_depth - 1)).astype(np.uint8 if bit_depth == 8 else np.uint16)
    with atomic_write(p) as tmp:
        if fmt == "TIFF":
            import tifffile

            tifffile.imwrite(tmp, a, photometric="rgb" if a.ndim == 3 else "minisblack", compression="zlib")
        elif fmt == "PNG" and a.ndim == 3 and bit_depth == 16:
            _png16_rgb(tmp, a)
        else:
            from PIL import Image

            options = {"quality": 95} if fmt == "JPEG" else {}
            Image.fromarray(a).save(tmp, format=fmt, **options)
    return p


# --------------------------------------------------------------------------------------------- kernels


def _checked_kernel(k: np.ndarray, path: Path) -> torch.Tensor:
    k = np.asarray(k, dtype=np.float64)
    if k.ndim == 2:
        k = k[None, None]
    elif k.ndim == 3:
        k = k[:, None]
    if k.ndim != 4 or k.shape[1] != 1:
        raise InputError(f"kernel in {path} must be (h, w) or (B, 1, h, w), got {k.shape}")
    if not np.isfinite(k).all() or (k < 0).any():
        raise InputError(f"kernel in {path} has negative or non-finite values")
    total = k.sum(axis=(-2, -1), keepdims=True)
    if (total <= 0).any():
        raise InputError(f"kernel in {path} sums to zero")
    return torch.from_numpy((k / total).astype(np.float32))


def read_kernel(path: str | Path) -> torch.Tensor:
    """Read a kernel as a float32 ``(B, 1, h, w)`` tensor normalised to sum 1.

    ``.png``: gray levels (colour is averaged); ``.npy``: ``(h, w)`` or ``(B, 1, h, w)`` array;
    ``.safetensors``: the tensor named ``kernel`` (or the only tensor).
    """
    p = _existing(path)
    suffix = _kernel_suffix(p)
    try:
        if suffix == ".png":
            k = read_image(p)[0].mean(1, keepdim=True).double().numpy()
        elif suffix == ".npy":
            k = np.load(p, allow_pickle=False)
        else:
            from safetensors.numpy import load_file

            tensors = load_file(str(p))
            if "kernel" not in tensors and len(tensors) != 1:
                raise InputError(f"{p} holds {sorted(tensors)}; expected a tensor named 'kernel'")
            k = tensors.get("kernel", next(iter(tensors.values())))
    except InputError:
        raise
    except Exception as exc:  # numpy / safetensors raise several types on corrupt files
        raise InputError(
            f"cannot read kernel {p}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        ) from exc
    return _checked_kernel(k, p)


def write_kernel(path: str | Path, k: torch.Tensor) -> Path:
    """Write a ``(B, 1, h, w)`` or ``(h, w)`` kernel.

    ``.npy`` stores ``(h, w)`` for one kernel, else ``(B, 1, h, w)``, float32; ``.safetensors`` stores
    ``(B, 1, h, w)`` as ``kernel``; ``.png`` stores one kernel as a 16-bit gray image ``k / max(k)``
    (read back up to a relative error of ``2**-16``). For a picture to look at, see
    :func:`deblur.kernels.kernel_to_image`.
    """
    p = Path(path)
    suffix = _kernel_suffix(p)
    t = k.detach().to("cpu", torch.float32)
    t = t[None, None] if t.dim() == 2 else t
    if t.dim() != 4 or t.shape[1] != 1:
        raise InputError(f"kernel must be (h, w) or (B, 1, h, w), got {tuple(k.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InputError("kernel has non-finite values")
    with atomic_write(p) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, t[0, 0].numpy() if t.shape[0] == 1 else t.numpy())
        elif suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file({"kernel": t.contiguous()}, str(tmp))
        else:
            if t.shape[0] != 1:
                raise InputError(f"a kernel PNG holds one kernel, got {t.shape[0]}: use .npy or .safetensors")
            write_image(tmp, t / t.max().clamp_min(1e-30), bit_depth=16)
    return p
