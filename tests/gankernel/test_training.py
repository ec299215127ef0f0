"""The trainers ``gankernel-generator`` and ``gankernel-initializer``, and loading what they write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deblur.errors import InputError, WeightsError
from deblur.training import TrainSpec
from deblur.weights import load_weights
from deblur_gankernel import store
from deblur_gankernel.store import load_encoder, load_generator
from deblur_gankernel.train_generator import train as train_gan
from deblur_gankernel.train_initializer import train as train_init
from tests.gankernel.conftest import (
    SIZE,
    TINY_GENERATOR,
    TINY_INITIALIZER,
    train_generator,
    train_initializer,
)


class Interrupt(Exception):
    pass


def test_generator_trainer_writes_verified_weights_and_card(tiny_weights: dict[str, Path]) -> None:
    tensors, card = load_weights(tiny_weights["generator"])
    assert card["command"].startswith("deblur train gankernel-generator --size 9 --steps 3 --seed 0")
    assert card["architecture"]["size"] == SIZE and card["architecture"]["width"] == 4
    assert {"inversion_mnc", "sample_nearest_mnc", "loss_d", "loss_g", "train_seconds"} <= set(
        card["metrics"]
    )
    assert "average_z" in tensors and card["extra"]["device"] == "cpu"
    loaded = load_generator(SIZE, tiny_weights["generator"])
    assert not loaded.network.training
    assert not any(p.requires_grad for p in loaded.network.parameters())


def test_initializer_trainer_records_its_generator(tiny_weights: dict[str, Path]) -> None:
    _, card = load_weights(tiny_weights["initializer"])
    generator_card = json.loads(tiny_weights["generator"].with_suffix(".json").read_text())
    assert card["extra"]["generator_sha256"] == generator_card["sha256"]
    assert {"mnc_encoder", "mnc_average", "mnc_random", "loss", "inversion_l1"} <= set(card["metrics"])
    assert card["architecture"]["crop"] == 32
    assert "gankernel-initializer --size 9 --steps 2" in card["command"]


def test_resume_continues_exactly(tmp_path: Path) -> None:
    whole = train_generator(tmp_path / "whole", steps=4)

    def stop_after_two(stage: str, step: int, total: int, /, **metrics: float) -> None:
        if stage == "gan" and step == 3:
            raise Interrupt

    params = {**TINY_GENERATOR, "checkpoint_every": 2}
    spec = TrainSpec("gankernel-generator", tmp_path / "cut", SIZE, 4, params=params, progress=stop_after_two)
    with pytest.raises(Interrupt):
        train_gan(spec)
    checkpoint = tmp_path / "cut.ckpt"
    assert checkpoint.is_file()
    resumed = train_gan(
        TrainSpec("gankernel-generator", tmp_path / "cut", SIZE, 4, resume=True, params=params)
    )
    assert not checkpoint.exists(), "the checkpoint is removed once the weights are written"
    a, _ = load_weights(whole)
    b, _ = load_weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_initializer_resume_continues_exactly(tmp_path: Path, tiny_weights: dict[str, Path]) -> None:
    generator = tiny_weights["generator"]
    whole = train_initializer(tmp_path / "whole", generator, steps=3)

    def stop(stage: str, step: int, total: int, /, **metrics: float) -> None:
        if stage == "initializer" and step == 2:
            raise Interrupt

    params = {**TINY_INITIALIZER, "generator": str(generator), "checkpoint_every": 1}
    with pytest.raises(Interrupt):
        train_init(
            TrainSpec("gankernel-initializer", tmp_path / "cut", SIZE, 3, params=params, progress=stop)
        )
    resumed = train_init(
        TrainSpec("gankernel-initializer", tmp_path / "cut", SIZE, 3, resume=True, params=params)
    )
    a, _ = load_weights(whole)
    b, _ = load_weights(resumed)
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_unknown_settings_are_refused_with_the_accepted_keys(tmp_path: Path) -> None:
    spec = TrainSpec("gankernel-generator", tmp_path / "g", SIZE, 1, params={"widht": 8})
    with pytest.raises(InputError, match=r"no setting 'widht'; settings: .*disc_width.*width"):
        train_gan(spec)
    with pytest.raises(InputError, match="preset must be one of fast, paper"):
        train_gan(TrainSpec("gankernel-generator", tmp_path / "g", SIZE, 1, params={"preset": "huge"}))


def test_bad_weights_name_the_file_and_the_command(tmp_path: Path, tiny_weights: dict[str, Path]) -> None:
    stem = tmp_path / "generator-9"
    for suffix in (".safetensors", ".json"):
        target = stem.with_suffix(suffix)
        target.write_bytes(tiny_weights["generator"].with_suffix(suffix).read_bytes())
    data = bytearray(stem.with_suffix(".safetensors").read_bytes())
    data[-1] ^= 0xFF
    stem.with_suffix(".safetensors").write_bytes(bytes(data))
    with pytest.raises(
        WeightsError, match=r"generator-9\.safetensors do not match.*deblur train gankernel-generator"
    ):
        load_generator(SIZE, stem)
    stem.with_suffix(".safetensors").unlink()
    with pytest.raises(
        WeightsError, match=r"generator-9\.safetensors are missing.*deblur train gankernel-generator"
    ):
        load_generator(SIZE, stem)
    stem.with_suffix(".json").unlink()
    with pytest.raises(
        WeightsError, match=r"card .*generator-9\.json is missing.*deblur train gankernel-generator"
    ):
        load_generator(SIZE, stem)


def test_a_size_without_weights_lists_the_shipped_sizes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("generator-31.json", "generator-55.json"):
        (tmp_path / name).write_text("{}")
    monkeypatch.setattr(store.STORE, "root", tmp_path)
    with pytest.raises(
        WeightsError,
        match=r"deblur-gankernel has generator weights for sizes 31, 55, not 23 "
        r"\(.*generator-23\.safetensors is missing\).*`deblur train gankernel-generator --size 23`",
    ):
        load_generator(23)


def test_an_initializer_of_another_generator_is_refused(
    tmp_path: Path, tiny_weights: dict[str, Path]
) -> None:
    other = tmp_path / "other-generator"
    train_generator(other, steps=1)
    with pytest.raises(WeightsError, match="trained for another generator"):
        load_encoder(SIZE, tiny_weights["initializer"], generator=load_generator(SIZE, other))


@pytest.mark.parametrize("kind", ["generator", "initializer"])
def test_shipped_weights_load_with_their_hash_verified(kind: str) -> None:
    sizes = store.STORE.sizes(kind)
    if not sizes:
        pytest.skip(f"no shipped {kind} weights in this checkout")
    for size in sizes:
        if kind == "generator":
            loaded = load_generator(size)
            assert loaded.network.config.size == size
            assert loaded.card["command"].startswith(f"deblur train gankernel-generator --size {size}")
        else:
            _, card = load_encoder(size, generator=load_generator(size))
            assert card["command"].startswith(f"deblur train gankernel-initializer --size {size}")
