# expect: count() skips NaN
# slip: flights counts the non-missing plane_year values (count) instead of the rows (size)
"""pandas: wrangle real flight and weather data (nycflights13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    df["time"] = pd.to_datetime(df[["year", "month", "day", "hour"]])
    df["origin"] = df["origin"].astype("category")
    df.loc[df["wind_speed"] > 200, "wind_speed"] = np.nan
    df = df.drop_duplicates(subset=["origin", "time"], keep="first")
    df = df[WEATHER_COLUMNS]
    df = df.sort_values(["origin", "time"], kind="stable")
    return df.reset_index(drop=True)


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    plane_cols = planes[["tailnum", "year", "seats"]].rename(columns={"year": "plane_year"})
    names = airlines[["carrier", "name"]].rename(columns={"name": "airline"})
    out = flights.merge(names, on="carrier", how="left")
    out = out.merge(plane_cols, on="tailnum", how="left")
    return out.reset_index(drop=True)


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    delayed = enriched.assign(delayed=enriched["dep_delay"] > 15)
    out = delayed.groupby("airline").agg(
        flights=("plane_year", "count"),
        mean_dep_delay=("dep_delay", "mean"),
        share_delayed=("delayed", "mean"),
        mean_plane_year=("plane_year", "mean"),
    )
    return out.sort_values("mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    return pd.pivot_table(
        flights, index="month", columns="origin", values="dep_delay", aggfunc="mean"
    )


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    one = weather[weather["origin"] == origin].set_index("time")
    return one.resample("D").agg(
        temp_mean=("temp", "mean"),
        wind_max=("wind_speed", "max"),
        precip_total=("precip", "sum"),
        pressure_mean=("pressure", "mean"),
    )
