# expect: filled with 0 before the mean
"""Mistake: missing plane years become 0 before the mean."""

from __future__ import annotations

import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.assign(
        time=pd.to_datetime(raw[["year", "month", "day", "hour"]]),
        origin=raw["origin"].astype("category"),
    )[WEATHER_COLUMNS]
    df.loc[df["wind_speed"] > 200, "wind_speed"] = float("nan")
    return (
        df.drop_duplicates(subset=["origin", "time"], keep="first")
        .sort_values(["origin", "time"], kind="stable")
        .reset_index(drop=True)
    )


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    plane_info = planes[["tailnum", "year", "seats"]].rename(columns={"year": "plane_year"})
    names = airlines[["carrier", "name"]].rename(columns={"name": "airline"})
    return flights.merge(names, on="carrier", how="left", validate="many_to_one").merge(
        plane_info, on="tailnum", how="left", validate="many_to_one"
    )


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    summary = (
        enriched.fillna({"plane_year": 0})
        .assign(delayed=enriched["dep_delay"] > 15)
        .groupby("airline")
        .agg(
            flights=("dep_delay", "size"),
            mean_dep_delay=("dep_delay", "mean"),
            share_delayed=("delayed", "mean"),
            mean_plane_year=("plane_year", "mean"),
        )
    )
    return summary.sort_values("mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    return pd.pivot_table(
        flights, index="month", columns="origin", values="dep_delay", aggfunc="mean"
    )


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    return (
        weather[weather["origin"] == origin]
        .set_index("time")
        .resample("D")
        .agg(
            temp_mean=("temp", "mean"),
            wind_max=("wind_speed", "max"),
            precip_total=("precip", "sum"),
            pressure_mean=("pressure", "mean"),
        )
    )
