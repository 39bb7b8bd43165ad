"""Correct, written differently: DataFrame.join, NamedAgg, pivot_table method, dt.floor."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    parts = raw[["year", "month", "day", "hour"]]
    df = pd.DataFrame(
        {
            "origin": raw["origin"].astype("category"),
            "time": pd.to_datetime(parts),
            "temp": raw["temp"],
            "wind_speed": np.where(raw["wind_speed"] > 200, np.nan, raw["wind_speed"]),
            "precip": raw["precip"],
            "pressure": raw["pressure"],
            "visib": raw["visib"],
        }
    )
    df = df.sort_values(["origin", "time"])  # multi-column sorts are stable: first stays first
    df = df.drop_duplicates(["origin", "time"])
    return df.reset_index(drop=True)


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    plane_info = planes.set_index("tailnum")[["year", "seats"]].add_prefix("plane_")
    plane_info = plane_info.rename(columns={"plane_seats": "seats"})
    names = airlines.set_index("carrier")[["name"]].rename(columns={"name": "airline"})
    return flights.join(names, on="carrier").join(plane_info, on="tailnum")


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    work = enriched[["airline", "dep_delay", "plane_year"]].copy()
    work["late"] = (work["dep_delay"] > 15).astype(float)
    summary = work.groupby("airline").agg(
        flights=pd.NamedAgg(column="airline", aggfunc="count"),
        mean_dep_delay=pd.NamedAgg(column="dep_delay", aggfunc="mean"),
        share_delayed=pd.NamedAgg(column="late", aggfunc="mean"),
        mean_plane_year=pd.NamedAgg(column="plane_year", aggfunc="mean"),
    )
    return summary.sort_values("mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    return flights.pivot_table(index="month", columns="origin", values="dep_delay").sort_index()


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    at = weather.loc[weather["origin"] == origin]
    day = at["time"].dt.floor("D")
    return at.groupby(day).agg(
        temp_mean=("temp", "mean"),
        wind_max=("wind_speed", "max"),
        precip_total=("precip", "sum"),
        pressure_mean=("pressure", "mean"),
    )
