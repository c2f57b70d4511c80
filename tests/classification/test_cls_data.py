"""CIFAR files on disk, the digits split and the per-image transforms."""

import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS, TRANSFORMS

import arsam.tasks.classification  # noqa: F401
from arsam.tasks.classification import make_fake_cifar
from arsam.tasks.classification.datasets import digits_split

CIFAR_TRAIN_PIPELINE = [
    dict(type="RandomPadCrop", size=32, padding=4),
    dict(type="RandomHorizontalFlip", prob=0.5),
    dict(type="Cutout", size=16, fill=0),
    dict(type="PackClsInputs"),
]


def test_fake_cifar10_loads_through_torchvision(tmp_path):
    folder = make_fake_cifar(str(tmp_path), num_per_split=12)
    expected = {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch", "batches.meta"}
    assert set(os.listdir(folder)) == expected

    train = DATASETS.build(
        dict(type="CIFAR10Dataset", data_root=str(tmp_path), split="train", verify_checksums=False)
    )
    test = DATASETS.build(
        dict(type="CIFAR10Dataset", data_root=str(tmp_path), split="test", verify_checksums=False)
    )
    assert (len(train), len(test)) == (60, 12)
    assert train.labels.tolist() == [i % 10 for i in range(12)] * 5
    assert train.metainfo["classes"][3] == "class_3"

    with open(os.path.join(folder, "data_batch_2"), "rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    first = raw["data"][0].reshape(3, 32, 32)
    sample = train[12]
    assert sample["inputs"].dtype == torch.uint8
    assert torch.equal(sample["inputs"], torch.from_numpy(first))
    assert sample["labels"] == raw["labels"][0]


def test_fake_cifar100_loads_through_torchvision(tmp_path):
    make_fake_cifar(str(tmp_path), num_per_split=150, cifar100=True)
    cfg = dict(type="CIFAR100Dataset", data_root=str(tmp_path), verify_checksums=False)
    train = DATASETS.build({**cfg, "split": "train", "pipeline": CIFAR_TRAIN_PIPELINE})
    test = DATASETS.build({**cfg, "split": "test"})
    assert (len(train), len(test)) == (150, 150)
    assert len(train.metainfo["classes"]) == 100
    assert train.labels.max() == 99 and test.labels[120] == 20
    sample = train[0]
    assert sample["inputs"].shape == (3, 32, 32) and sample["labels"] == 0


def test_fake_cifar_fails_checksum_verification(tmp_path):
    make_fake_cifar(str(tmp_path), num_per_split=2)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        DATASETS.build(dict(type="CIFAR10Dataset", data_root=str(tmp_path)))


@pytest.mark.parametrize(
    ("dataset_type", "folder"),
    [("CIFAR10Dataset", "cifar-10-batches-py"), ("CIFAR100Dataset", "cifar-100-python")],
)
def test_missing_cifar_names_directory_and_download(tmp_path, dataset_type, folder):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        DATASETS.build(dict(type=dataset_type, data_root=str(root)))
    message = str(info.value)
    assert os.path.join(str(root), folder) in message
    assert "download=True" in message and "https://www.cs.toronto.edu/~kriz/" in message


def test_cutout_fills_a_square_of_at_most_size():
    cutout = TRANSFORMS.build(dict(type="Cutout", size=16))
    torch.manual_seed(0)
    full_squares = 0
    for _ in range(50):
        img = cutout({"img": np.full((40, 40, 3), 7, dtype=np.uint8)})["img"]
        zero_rows, zero_cols = np.nonzero((img == 0).all(axis=2))
        assert zero_rows.size > 0 and (img[img != 0] == 7).all()
        height = zero_rows.max() - zero_rows.min() + 1
        width = zero_cols.max() - zero_cols.min() + 1
        assert height <= 16 and width <= 16 and zero_rows.size == height * width
        full_squares += (height, width) == (16, 16)
    assert 0 < full_squares < 50  # centred anywhere: clipped at the borders now and then


def test_cutout_fill_per_channel():
    torch.manual_seed(1)
    cutout = TRANSFORMS.build(dict(type="Cutout", size=16, fill=[125.3, 123.0, 113.9]))
    img = cutout({"img": np.zeros((32, 32, 3), dtype=np.uint8)})["img"]
    filled = img[(img != 0).any(axis=2)]
    assert len(filled) >= 64 and (filled == [125, 123, 114]).all()


def test_random_pad_crop_and_flip():
    img = np.arange(32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3)
    crop = TRANSFORMS.build(dict(type="RandomPadCrop", size=32, padding=4))
    torch.manual_seed(0)
    for _ in range(10):
        out = crop({"img": img})["img"]
        assert out.shape == (32, 32, 3)
        values = out[out != 0]
        assert np.isin(values, img).all()
    flip = TRANSFORMS.build(dict(type="RandomHorizontalFlip", prob=1.0))
    assert np.array_equal(flip({"img": img})["img"], img[:, ::-1])


def test_digits_split_is_deterministic_and_disjoint():
    first, second = digits_split(), digits_split()
    assert np.array_equal(first["train"], second["train"])
    assert np.array_equal(first["test"], second["test"])
    assert not set(first["train"]) & set(first["test"])
    assert len(first["train"]) + len(first["test"]) == 1797
    assert not np.array_equal(digits_split(seed=1)["test"], first["test"])


def test_digits_dataset_images_and_labels():
    train = DATASETS.build(dict(type="DigitsDataset", split="train"))
    test = DATASETS.build(dict(type="DigitsDataset", split="test"))
    assert (len(train), len(test)) == (1347, 450)
    assert np.bincount(test.labels).min() >= 40
    sample = test[0]
    assert sample["inputs"].shape == (1, 16, 16) and sample["inputs"].dtype == torch.uint8
    assert test.images.max() == 255 and test.images.min() == 0
    again = DATASETS.build(dict(type="DigitsDataset", split="test"))
    assert torch.equal(again[5]["inputs"], test[5]["inputs"])
    assert again[5]["labels"] == test[5]["labels"]
