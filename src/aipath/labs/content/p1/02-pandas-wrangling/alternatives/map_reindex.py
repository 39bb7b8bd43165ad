"""Series.map lookups instead of merges, a duplicated() mask, groupby + unstack, a Grouper-free resample."""

from __future__ import annotations

import numpy as np
import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    time = pd.to_datetime(
        dict(year=raw["year"], month=raw["month"], day=raw["day"], hour=raw["hour"])
    )
    out = pd.DataFrame(
        {
            "origin": pd.Categorical(raw["origin"]),
            "time": time,
            "temp": raw["temp"],
            "wind_speed": raw["wind_speed"].where(~(raw["wind_speed"] > 200), np.nan),
            "precip": raw["precip"],
            "pressure": raw["pressure"],
            "visib": raw["visib"],
        }
    )
    out = out[~out.duplicated(subset=["origin", "time"])]
    order = np.lexsort((out["time"].to_numpy(), out["origin"].astype(str).to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    by_tail = planes.set_index("tailnum")
    by_carrier = airlines.set_index("carrier")["name"]
    return flights.assign(
        airline=flights["carrier"].map(by_carrier),
        plane_year=flights["tailnum"].map(by_tail["year"]),
        seats=flights["tailnum"].map(by_tail["seats"]),
    )


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    groups = enriched.groupby("airline")
    out = pd.DataFrame(
        {
            "flights": groups.size(),
            "mean_dep_delay": groups["dep_delay"].mean(),
            "share_delayed": groups["dep_delay"].apply(lambda d: float((d > 15).sum()) / len(d)),
            "mean_plane_year": groups["plane_year"].mean(),
        }
    )
    out.index.name = "airline"
    return out.sort_values("mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    table = flights.groupby(["month", "origin"])["dep_delay"].mean().unstack("origin")
    return table.sort_index().sort_index(axis=1)


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    one = weather.loc[
        weather["origin"] == origin, ["time", "temp", "wind_speed", "precip", "pressure"]
    ]
    daily = one.resample("D", on="time")
    return pd.DataFrame(
        {
            "temp_mean": daily["temp"].mean(),
            "wind_max": daily["wind_speed"].max(),
            "precip_total": daily["precip"].sum(),
            "pressure_mean": daily["pressure"].mean(),
        }
    )
