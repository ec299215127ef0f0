from __future__ import annotations

import json
import re

import pytest
import torch

from deblur.errors import WeightsError
from deblur.weights import WeightCard, card_path, load_weights, save_weights, sha256_file

COMMAND = "deblur train demo --seed 0"


@pytest.fixture
def saved(tmp_path):
    tensors = {"w": torch.arange(6.0).view(2, 3), "b": torch.ones(3)}
    card = WeightCard(
        command=COMMAND, architecture={"widths": [8, 16]}, seed=0, data="dead leaves", metrics={"psnr": 30.5}
    )
    return save_weights(tmp_path / "demo", tensors, card), tensors


def test_round_trip_and_card(saved):
    path, tensors = saved
    assert path.name == "demo.safetensors" and card_path(path).name == "demo.json"
    loaded, card = load_weights(path.with_suffix(""))
    assert set(loaded) == {"w", "b"} and all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert card["command"] == COMMAND and card["architecture"] == {"widths": [8, 16]}
    assert card["sha256"] == sha256_file(path) and card["created"].startswith("20")
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.json", "demo.safetensors"]


def test_missing_file_names_it_and_the_command(saved):
    path, _ = saved
    path.unlink()
    with pytest.raises(WeightsError, match=r"demo\.safetensors") as err:
        load_weights(path)
    assert f"run `{COMMAND}` to recreate it" in str(err.value) and "\n" not in str(err.value)


def test_corrupt_or_tampered_file(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="do not match their card"):
        load_weights(path)
    # A corrupt file whose card was "fixed" to match still fails cleanly.
    path.write_bytes(b"garbage")
    card = json.loads(card_path(path).read_text())
    card["sha256"] = sha256_file(path)
    card_path(path).write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=f"corrupt.*{re.escape(COMMAND)}"):
        load_weights(path)


def test_missing_card_and_command(tmp_path, saved):
    path, tensors = saved
    card_path(path).unlink()
    with pytest.raises(WeightsError, match=r"demo\.json"):
        load_weights(path)
    with pytest.raises(WeightsError, match="command"):
        save_weights(tmp_path / "x", tensors, {"seed": 1})
