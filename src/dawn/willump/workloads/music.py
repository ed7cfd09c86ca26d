"""*music*: MovieLens ratings with user and movie join features served from Redis, LightGBM.

Stands in for the paper's Music workload (KKBox, joins of user/song tables, LightGBM, tables in Redis
in the remote setting). The label is whether a rating is 4 stars or more. The request context (the
movie's year and genres, the rating's time) is local; the user and movie statistics, built from the
training split, live in Redis and are fetched per request by :class:`~dawn.willump.remote.RedisFeature`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dawn.willump.pipeline import Pipeline
from dawn.willump.remote import RedisFeature, RedisServer, upload_table
from dawn.willump.workloads import Workload, split_indices

GENRES = [
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western", "IMAX",
]  # fmt: skip


def _genre_matrix(genres: pd.Series) -> np.ndarray:
    # Parse each distinct genre string once (a few hundred), then gather rows: per-row substring tests
    # cost more than the Redis lookups and made the "cheap" local group the dearest one.
    codes, uniq = pd.factorize(genres.to_numpy())
    table = np.array([[g in u.split("|") for g in GENRES] for u in uniq], dtype=float).reshape(
        -1, len(GENRES)
    )
    return table[codes]


def context(X: pd.DataFrame) -> np.ndarray:
    """Local request features: movie year, hour and weekday of the rating, genre indicators."""
    # Integer arithmetic on the Unix time instead of pandas datetime accessors: the same UTC hour and
    # weekday (1970-01-01 was a Thursday, Monday = 0), without a per-call overhead that dominated
    # single-row requests.
    ts = X["timestamp"].to_numpy(dtype=np.int64)
    hour = (ts // 3600) % 24
    weekday = (ts // 86400 + 3) % 7
    return np.column_stack([X["year"].to_numpy(float), hour.astype(float), weekday.astype(float),
                            _genre_matrix(X["genres"])])  # fmt: skip


def _user_table(train: pd.DataFrame) -> pd.DataFrame:
    g = train.groupby("userId")["rating"]
    tab = pd.DataFrame(
        {"n": g.size(), "mean": g.mean(), "std": g.std(), "high": g.apply(lambda r: (r >= 4).mean())}
    )
    G = _genre_matrix(train["genres"])
    dev = (train["rating"].to_numpy() - train["userId"].map(tab["mean"]).to_numpy())[:, None] * G
    per = pd.DataFrame(dev, columns=GENRES).groupby(train["userId"].to_numpy()).sum()
    cnt = pd.DataFrame(G, columns=GENRES).groupby(train["userId"].to_numpy()).sum()
    aff = (per / (cnt + 3.0)).add_prefix("aff_")  # shrunk per-genre deviation from the user's mean
    return tab.join(aff)


def _movie_table(train: pd.DataFrame) -> pd.DataFrame:
    g = train.groupby("movieId")["rating"]
    return pd.DataFrame(
        {"n": g.size(), "mean": g.mean(), "std": g.std(), "high": g.apply(lambda r: (r >= 4).mean())}
    )


def build(*, quick: bool = False, seed: int = 0, redis_url: str | None = None) -> Workload:
    import lightgbm as lgb

    from dawn import data

    df = data.load("movielens").reset_index(drop=True)
    df["genres"] = df["genres"].fillna("")
    if quick:
        df = df.iloc[np.random.default_rng(seed).permutation(len(df))[:30_000]].reset_index(drop=True)
    y = (df["rating"] >= 4).to_numpy().astype(int)
    tr, va, te = split_indices(len(df), (0.4, 0.3), seed)
    train = df.iloc[tr]
    server = RedisServer() if redis_url is None else None
    try:  # a failure before the workload is handed over must not leave the private server running
        url = server.url if server is not None else str(redis_url)
        users, movies = _user_table(train), _movie_table(train)
        upload_table(url, "u:", users)
        upload_table(url, "m:", movies)
        groups: dict[str, Any] = {
            "context": context,
            "movie": RedisFeature(url, "m:", "movieId", movies.shape[1]),
            "user": RedisFeature(url, "u:", "userId", users.shape[1]),
        }
        model = lgb.LGBMClassifier(n_estimators=100 if quick else 300, num_leaves=63, learning_rate=0.05,
                                   n_jobs=1, random_state=seed, verbose=-1)  # fmt: skip
        pipe = Pipeline(groups, model)
        model.fit(pipe.transform(train), y[tr])
    except BaseException:
        if server is not None:
            server.stop()
        raise
    cols = ["userId", "movieId", "year", "genres", "timestamp"]
    return Workload(
        "music", pipe, df.iloc[va][cols], y[va], df.iloc[te][cols], y[te], "accuracy",
        f"MovieLens, {len(df)} ratings; rating >= 4; user/movie tables in Redis; LightGBM",
        close=server.stop if server is not None else (lambda: None),
        X_train=train[cols], y_train=y[tr],
    )  # fmt: skip
