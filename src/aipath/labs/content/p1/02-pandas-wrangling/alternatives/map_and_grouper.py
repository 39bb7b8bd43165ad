"""Correct, written differently: Series.map lookups, groupby + unstack, pd.Grouper."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    df["time"] = pd.to_datetime(
        {"year": df["year"], "month": df["month"], "day": df["day"], "hour": df["hour"]}
    )
    df["origin"] = pd.Categorical(df["origin"])
    df["wind_speed"] = df["wind_speed"].mask(df["wind_speed"] > 200, np.nan)
    df = df.loc[~df.duplicated(["origin", "time"]), WEATHER_COLUMNS]
    return df.sort_values(by=["origin", "time"], ignore_index=True)


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    by_tail = planes.set_index("tailnum")
    return flights.assign(
        airline=flights["carrier"].map(airlines.set_index("carrier")["name"]),
        plane_year=flights["tailnum"].map(by_tail["year"]),
        seats=flights["tailnum"].map(by_tail["seats"]),
    )


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    groups = enriched.groupby("airline")
    summary = pd.DataFrame(
        {
            "flights": groups.size(),
            "mean_dep_delay": groups["dep_delay"].mean(),
            "share_delayed": groups["dep_delay"].apply(lambda d: (d > 15).mean()),
            "mean_plane_year": groups["plane_year"].mean(),
        }
    )
    return summary.sort_values(by="mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    return flights.groupby(["month", "origin"])["dep_delay"].mean().unstack()


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    at = weather.query("origin == @origin")
    days = at.groupby(pd.Grouper(key="time", freq="D"))
    return pd.DataFrame(
        {
            "temp_mean": days["temp"].mean(),
            "wind_max": days["wind_speed"].max(),
            "precip_total": days["precip"].sum(),
            "pressure_mean": days["pressure"].mean(),
        }
    )
