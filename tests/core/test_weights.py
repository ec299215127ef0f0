from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from deblur.errors import WeightsError
from deblur.weights import WeightCard, WeightStore, card_path, load_weights, save_weights, sha256_file

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


PACKAGE = "deblur_store_demo"
TRAINERS = {"prior": "demo-prior", "init": "demo-init"}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WeightStore]:
    """A store over an importable package ``deblur_store_demo`` with ``prior`` weights of sizes 9 and 15."""
    package = tmp_path / PACKAGE
    (package / "weights").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    store = WeightStore(PACKAGE, TRAINERS)
    for size in (15, 9):
        tensors = {"w": torch.full((size,), float(size))}
        save_weights(store.stem("prior", size), tensors, {"command": store.command("prior", size)})
    (package / "weights" / "prior-x.json").write_text("{}")  # not a size
    (package / "weights" / "init-21.json").write_text("{}")  # another kind
    yield store
    sys.modules.pop(PACKAGE, None)


def test_store_lists_and_loads_the_package_data(store: WeightStore, tmp_path: Path) -> None:
    assert store.root == tmp_path / PACKAGE / "weights"
    assert store.sizes("prior") == [9, 15] and store.sizes("init") == [21]
    assert store.stem("prior", 9) == store.root / "prior-9"
    assert store.command("init", 21) == "deblur train demo-init --size 21"
    assert store.command("prior", 9, out="x/p") == "deblur train demo-prior --size 9 --out x/p"
    tensors, card = store.load("prior", 15)
    assert torch.equal(tensors["w"], torch.full((15,), 15.0))
    assert card["sha256"] == sha256_file(store.stem("prior", 15).with_suffix(".safetensors"))
    other = tmp_path / "elsewhere" / "prior-9"
    save_weights(other, {"w": torch.zeros(2)}, {"command": "deblur train demo-prior --size 9"})
    assert torch.equal(store.load("prior", 9, other)[0]["w"], torch.zeros(2))
    with pytest.raises(ValueError, match="kinds: prior, init"):
        store.sizes("posterior")
    with pytest.raises(ValueError, match="needs"):
        WeightStore(PACKAGE, TRAINERS, pattern="net-{size}")


def test_store_refuses_a_missing_size_naming_the_sizes_and_the_command(store: WeightStore) -> None:
    with pytest.raises(WeightsError) as err:
        store.load("prior", 21)
    message = str(err.value)
    assert "has prior weights for sizes 9, 15, not 21" in message
    assert f"{store.stem('prior', 21)}.safetensors is missing" in message
    assert message.endswith("train them with `deblur train demo-prior --size 21`")


def test_the_covering_size_is_the_smallest_shipped_one_at_least_as_large(store: WeightStore) -> None:
    assert [store.covering("prior", s) for s in (3, 9, 10, 15)] == [9, 9, 15, 15]
    with pytest.raises(WeightsError, match=r"sizes 9, 15, none of at least 17 px; train them with `deblur"):
        store.covering("prior", 17)


def test_store_refuses_corrupt_or_cardless_files_naming_them_and_the_command(
    store: WeightStore, tmp_path: Path
) -> None:
    weights = store.stem("prior", 9).with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:-1] + b"!")
    with pytest.raises(WeightsError) as err:
        store.load("prior", 9)
    assert f"weights {weights} do not match their card" in str(err.value)
    assert "run `deblur train demo-prior --size 9` to recreate it" in str(err.value)
    card_path(weights).unlink()
    with pytest.raises(WeightsError, match=r"card .*prior-9\.json is missing.*demo-prior --size 9`"):
        store.load("prior", 9)
    stem = tmp_path / "mine"
    with pytest.raises(WeightsError, match=f"run `deblur train demo-prior --size 9 --out {stem}`"):
        store.load("prior", 9, stem)
    _, card = store.load("prior", 15)
    error = store.error("prior", 15, "are for 13 px kernels", card)
    assert str(error) == (
        f"prior weights {store.stem('prior', 15)}.safetensors are for 13 px kernels; "
        "run `deblur train demo-prior --size 15`"
    )
