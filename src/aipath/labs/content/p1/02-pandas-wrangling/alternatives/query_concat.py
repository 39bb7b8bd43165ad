"""Column-by-column building with .loc, merge with validate=, crosstab pivot, groupby on the day."""

from __future__ import annotations

import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.loc[:, ["origin", "year", "month", "day", "hour", *WEATHER_COLUMNS[2:]]].copy()
    df["time"] = pd.to_datetime(df.loc[:, ["year", "month", "day", "hour"]])
    too_fast = df["wind_speed"].gt(200)
    df["wind_speed"] = df["wind_speed"].mask(too_fast)
    df = df.groupby(["origin", "time"], sort=False, as_index=False).nth(0)
    df["origin"] = df["origin"].astype("category")
    df = df.loc[:, WEATHER_COLUMNS].sort_values(by=["origin", "time"], kind="mergesort")
    df.index = pd.RangeIndex(len(df))
    return df


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    planes_small = pd.DataFrame(
        {"tailnum": planes["tailnum"], "plane_year": planes["year"], "seats": planes["seats"]}
    )
    airline_names = pd.DataFrame({"carrier": airlines["carrier"], "airline": airlines["name"]})
    out = pd.merge(flights, airline_names, how="left", on="carrier", validate="many_to_one")
    out = pd.merge(out, planes_small, how="left", on="tailnum", validate="many_to_one")
    out.index = flights.index
    return out


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, group in enriched.groupby("airline"):
        rows.append(
            {
                "airline": name,
                "flights": len(group),
                "mean_dep_delay": group["dep_delay"].mean(),
                "share_delayed": (group["dep_delay"] > 15).mean(),
                "mean_plane_year": group["plane_year"].dropna().mean(),
            }
        )
    out = pd.DataFrame(rows).set_index("airline")
    return out.sort_values("mean_dep_delay", ascending=False)


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    return pd.crosstab(
        flights["month"], flights["origin"], values=flights["dep_delay"], aggfunc="mean"
    )


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    one = weather.query("origin == @origin")
    day = one["time"].dt.floor("D").rename("time")
    out = one.groupby(day).agg(
        temp_mean=("temp", "mean"),
        wind_max=("wind_speed", "max"),
        precip_total=("precip", "sum"),
        pressure_mean=("pressure", "mean"),
    )
    full = pd.date_range(out.index.min(), out.index.max(), freq="D", name="time")
    out = out.reindex(full)
    out["precip_total"] = out["precip_total"].fillna(0.0)
    return out
