from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

from deblur.errors import InputError
from deblur.io import ImageInfo, check_image, read_image, read_kernel, write_image, write_kernel


@pytest.fixture
def image():
    def make(channels: int, seed: int = 0) -> torch.Tensor:
        return torch.rand(1, channels, 9, 13, generator=torch.Generator().manual_seed(seed))

    return make


def codes(x: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.round(x.double() * (2**bits - 1)).long()


@pytest.mark.parametrize("ext", ["png", "tif", "tiff"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("bits", [8, 16])
def test_lossless_round_trip(tmp_path, image, ext, channels, bits):
    x = image(channels)
    path = write_image(tmp_path / f"im.{ext}", x, bit_depth=bits)
    y, info = read_image(path)
    assert info == ImageInfo(bit_depth=bits, channels=channels, format="PNG" if ext == "png" else "TIFF")
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert torch.equal(codes(y, bits), codes(x, bits))
    assert [p.name for p in tmp_path.iterdir()] == [f"im.{ext}"]  # no temporary file left


def test_float_tiff_round_trip(tmp_path, image):
    x = image(3)
    write_image(tmp_path / "f.tif", x, bit_depth=32)
    y, info = read_image(tmp_path / "f.tif")
    assert info == ImageInfo(bit_depth=32, channels=3, format="TIFF") and torch.equal(y, x)
    write_image(tmp_path / "f.png", x, bit_depth=32)
    assert read_image(tmp_path / "f.png")[1].bit_depth == 16


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_readable_and_8_bit(tmp_path, channels):
    i = torch.linspace(0, 1, 32)
    x = (0.5 + 0.4 * torch.sin(6 * i[:, None]) * torch.cos(4 * i[None, :])).expand(1, channels, 32, 32)
    write_image(tmp_path / "im.jpg", x, bit_depth=16)
    y, info = read_image(tmp_path / "im.jpg")
    assert info == ImageInfo(bit_depth=8, channels=channels, format="JPEG")
    assert (y - x).abs().mean() < 0.02


def _png16(kind: int, a: np.ndarray) -> bytes:
    """A 16-bit PNG with every scanline filter type (0..4), as other encoders write them."""
    h, w = a.shape[:2]
    rows = a.astype(">u2").reshape(h, -1).view(np.uint8).astype(np.int64)
    bpp = rows.shape[1] // w
    raw, prev = b"", np.zeros(rows.shape[1], np.int64)
    for r, x in enumerate(rows):
        f, out = r % 5, []
        for i, v in enumerate(x):
            left, up, ul = (x[i - bpp] if i >= bpp else 0), prev[i], (prev[i - bpp] if i >= bpp else 0)
            p = left + up - ul
            paeth = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - ul), 2, ul))[2]
            out.append((v - [0, left, up, (left + up) // 2, paeth][f]) % 256)
        raw += bytes([f, *out])
        prev = x

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, kind, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("kind", "channels", "keep"), [(2, 3, 3), (6, 4, 3), (4, 2, 1)])
def test_16_bit_colour_and_alpha_png_keep_all_bits(tmp_path, kind, channels, keep):
    a = np.random.default_rng(kind).integers(0, 65536, (6, 7, channels)).astype(np.uint16)
    (tmp_path / "a.png").write_bytes(_png16(kind, a))
    y, info = read_image(tmp_path / "a.png")
    assert info == ImageInfo(bit_depth=16, channels=keep, format="PNG")
    expected = torch.from_numpy(a[..., :keep].astype(np.float32) / 65535).permute(2, 0, 1)[None]
    assert torch.equal(y, expected)


def test_alpha_dropped_8_bit(tmp_path):
    from PIL import Image

    a = np.random.default_rng(0).integers(0, 256, (5, 6, 4)).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "rgba.png")
    y, info = read_image(tmp_path / "rgba.png")
    assert info.channels == 3 and torch.equal(y[0, 0], torch.from_numpy(a[..., 0] / 255).float())


def test_read_errors_are_one_line_and_name_the_file(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "x.gif").write_bytes(b"GIF89a")
    write_image(tmp_path / "ok.png", torch.rand(1, 3, 16, 16))
    (tmp_path / "cut.png").write_bytes((tmp_path / "ok.png").read_bytes()[:60])
    for name, match in [("missing.png", "not found"), ("bad.png", "cannot read"), ("x.gif", "unsupported")]:
        with pytest.raises(InputError, match=match) as err:
            read_image(tmp_path / name)
        assert name in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"cut\.png"):
        read_image(tmp_path / "cut.png")


def test_write_errors_leave_nothing(tmp_path):
    with pytest.raises(InputError, match="non-finite"):
        write_image(tmp_path / "nan.png", torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(InputError, match="does not exist"):
        write_image(tmp_path / "no" / "dir.png", torch.rand(1, 1, 4, 4))
    with pytest.raises(InputError, match="C = 1 or 3"):
        write_image(tmp_path / "two.png", torch.rand(1, 2, 4, 4))
    assert list(tmp_path.iterdir()) == []


def test_check_image():
    x = torch.rand(1, 1, 3, 3)
    assert check_image(x) is x
    x[0, 0, 1, 1] = float("inf")
    with pytest.raises(InputError, match="image has non-finite pixels"):
        check_image(x)


@pytest.mark.parametrize("ext", ["npy", "safetensors", "png"])
def test_kernel_round_trip(tmp_path, ext):
    k = torch.rand(1, 1, 7, 5, generator=torch.Generator().manual_seed(3))
    k /= k.sum()
    write_kernel(tmp_path / f"k.{ext}", k)
    back = read_kernel(tmp_path / f"k.{ext}")
    assert back.shape == (1, 1, 7, 5)
    assert float(back.sum()) == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(back, k, atol=1e-7 if ext != "png" else 1e-5)


def test_kernel_batch_and_errors(tmp_path):
    ks = torch.rand(3, 1, 5, 5)
    write_kernel(tmp_path / "ks.npy", ks)
    assert read_kernel(tmp_path / "ks.npy").shape == (3, 1, 5, 5)
    np.save(tmp_path / "neg.npy", -np.ones((3, 3)))
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00garbage!")
    for name, match in [
        ("neg.npy", "negative"),
        ("bad.safetensors", "cannot read"),
        ("nope.npy", "not found"),
    ]:
        with pytest.raises(InputError, match=match):
            read_kernel(tmp_path / name)
    with pytest.raises(InputError, match="unsupported kernel type"):
        write_kernel(tmp_path / "k.txt", ks)
    with pytest.raises(InputError, match="one kernel"):
        write_kernel(tmp_path / "ks.png", ks)


def test_an_output_folder_made_meanwhile_by_another_run_is_no_error(tmp_path, monkeypatch):
    from pathlib import Path

    from deblur.outputs import check_writable

    real = Path.mkdir

    def raced(self, *args, **kwargs):  # another benchmark makes the shared parent first
        real(self, *args, **kwargs)
        raise FileExistsError(17, "File exists", str(self))

    monkeypatch.setattr(Path, "mkdir", raced)
    check_writable(tmp_path / "parent" / "run-a")
    assert (tmp_path / "parent").is_dir(), "the other run's folder is left to it"
