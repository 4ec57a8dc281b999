"""The Python side of examples/dataframes: a generated year of sales and a pandas group-by over it.

``summary`` takes the discounts Node sends as an Arrow table: its parameter is annotated
``pd.DataFrame``, so it arrives as one (unannotated, it would be a ``pyarrow.Table``). It returns a
pandas DataFrame, which the pool sends to Node as an Arrow table (one IPC stream, one frame). Its
index (region, product) is kept as pyarrow keeps it: two columns after the data, named after the
index levels."""

from typing import TypedDict

import numpy as np
import pandas as pd

REGIONS = ["north", "south", "east", "west", "zürich"]
PRODUCTS = ["anvil", "rope", "rocket skates", "giant magnet"]


def sales(rows: int, seed: int) -> pd.DataFrame:
    """A deterministic data set: one row per sale."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": pd.Categorical(rng.choice(REGIONS, rows), categories=REGIONS),
        "product": pd.Categorical(rng.choice(PRODUCTS, rows), categories=PRODUCTS),
        "units": rng.integers(1, 20, rows),
        "price": rng.choice([9.99, 24.5, 199.0, 1_250.0], rows),
        "when": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 366 * 86400, rows), unit="s"),
    })


def _revenue(df: pd.DataFrame, discounts: pd.DataFrame) -> pd.Series:
    rate = df["region"].astype(str).map(discounts.set_index("region")["discount"]).fillna(0.0)
    return df["units"] * df["price"] * (1 - rate)


def summary(discounts: pd.DataFrame, rows: int = 200_000, seed: int = 7) -> pd.DataFrame:
    """Revenue after discounts, units and last sale per region and product, largest revenue first."""
    df = sales(rows, seed)
    df["revenue"] = _revenue(df, discounts)
    grouped = df.groupby(["region", "product"], observed=True).agg(
        revenue=("revenue", "sum"),
        units=("units", "sum"),
        sales=("units", "size"),
        last_sale=("when", "max"),
    )
    return grouped.sort_values("revenue", ascending=False)


class GroupFigures(TypedDict):
    revenue: float
    units: int
    sales: int


def check(discounts: pd.DataFrame, rows: int, seed: int, region: str, product: str) -> GroupFigures:
    """One group's figures computed again from the raw rows, for Node to compare with the table."""
    df = sales(rows, seed)
    picked = df[(df["region"] == region) & (df["product"] == product)]
    return {"revenue": float(_revenue(picked, discounts).sum()), "units": int(picked["units"].sum()), "sales": len(picked)}
