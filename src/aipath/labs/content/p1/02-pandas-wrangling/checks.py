"""Checks for p1-pandas-wrangling: frames equal to a reference, on real and on crafted tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aipath.checks import assert_frame, assert_returned, fail, rdataset

WEATHER_COLUMNS = ["origin", "time", "temp", "wind_speed", "precip", "pressure", "visib"]


@pytest.fixture(scope="module")
def tables():
    return {
        "weather": rdataset("nycflights13", "weather"),
        "flights": rdataset("openintro", "nycflights"),
        "planes": rdataset("nycflights13", "planes"),
        "airlines": rdataset("nycflights13", "airlines"),
    }


@pytest.fixture(scope="module")
def cleaned(tables):
    return ref_clean(tables["weather"])


@pytest.fixture(scope="module")
def enriched(tables):
    return ref_enrich(tables["flights"], tables["planes"], tables["airlines"])


# ----- references, written independently of the learner's file --------------------------------
def ref_clean(raw: pd.DataFrame, *, keep: str = "first", wind_at_least: bool = False):
    """The cleaned table; ``keep="last"`` and ``wind_at_least`` give two known mistakes."""
    too_fast = raw["wind_speed"] >= 200 if wind_at_least else raw["wind_speed"] > 200
    out = pd.DataFrame(
        {
            "origin": pd.Categorical(raw["origin"]),
            "time": pd.to_datetime(raw[["year", "month", "day", "hour"]]),
            "temp": raw["temp"],
            "wind_speed": raw["wind_speed"].where(~too_fast),
            "precip": raw["precip"],
            "pressure": raw["pressure"],
            "visib": raw["visib"],
        }
    )
    out = out[~out.duplicated(["origin", "time"], keep=keep)]
    return out.sort_values(["origin", "time"], kind="stable").reset_index(drop=True)


def ref_enrich(flights, planes, airlines) -> pd.DataFrame:
    out = flights.copy()
    names = airlines.set_index("carrier")["name"]
    by_tail = planes.set_index("tailnum")
    out["airline"] = out["carrier"].map(names)
    out["plane_year"] = out["tailnum"].map(by_tail["year"]).astype("float64")
    out["seats"] = out["tailnum"].map(by_tail["seats"]).astype("float64")
    return out


def ref_summary(enriched: pd.DataFrame, *, fill_zero: bool = False, cut=None) -> pd.DataFrame:
    years = enriched["plane_year"].fillna(0) if fill_zero else enriched["plane_year"]
    delayed = cut(enriched["dep_delay"]) if cut else enriched["dep_delay"] > 15
    frame = pd.DataFrame(
        {
            "airline": enriched["airline"],
            "dep_delay": enriched["dep_delay"],
            "delayed": delayed.astype(float),
            "plane_year": years,
        }
    )
    grouped = frame.groupby("airline")
    out = pd.DataFrame(
        {
            "flights": grouped.size(),
            "mean_dep_delay": grouped["dep_delay"].mean(),
            "share_delayed": grouped["delayed"].mean(),
            "mean_plane_year": grouped["plane_year"].mean(),
        }
    )
    return out.sort_values("mean_dep_delay", ascending=False)


def ref_pivot(flights: pd.DataFrame, how: str = "mean") -> pd.DataFrame:
    return flights.groupby(["month", "origin"])["dep_delay"].agg(how).unstack("origin")


def ref_daily(weather: pd.DataFrame, origin: str | None, *, fill_zero: bool = False):
    rows = weather if origin is None else weather[weather["origin"] == origin]
    if fill_zero:
        rows = rows.fillna({"pressure": 0.0, "temp": 0.0})
    day = rows["time"].dt.floor("D").rename("time")
    grouped = rows.groupby(day)
    return pd.DataFrame(
        {
            "temp_mean": grouped["temp"].mean(),
            "wind_max": grouped["wind_speed"].max(),
            "precip_total": grouped["precip"].sum(),
            "pressure_mean": grouped["pressure"].mean(),
        }
    )


def is_frame(got, name: str) -> pd.DataFrame:
    return assert_returned(got, name, what="the DataFrame", of=pd.DataFrame)


def frames_match(got: pd.DataFrame, want: pd.DataFrame, *, column_order: bool = False) -> bool:
    """A fast, vectorized equality test; ``assert_frame`` explains the difference when False."""
    try:
        return _frames_match(got, want, column_order=column_order)
    except (TypeError, ValueError):  # unusual dtypes: let assert_frame describe them
        return False


def _frames_match(got: pd.DataFrame, want: pd.DataFrame, *, column_order: bool) -> bool:
    if list(got.columns) != list(want.columns) and (
        column_order or set(got.columns) != set(want.columns)
    ):
        return False
    if len(got) != len(want) or not got.index.equals(want.index):
        return False
    for column in want.columns:
        g, w = got[column], want[column]
        numeric = pd.api.types.is_numeric_dtype(g) and pd.api.types.is_numeric_dtype(w)
        if numeric and not pd.api.types.is_bool_dtype(w):
            a, b = g.astype("float64").to_numpy(), w.astype("float64").to_numpy()  # NA → NaN
            if not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
                return False
            continue
        g_time, w_time = (pd.api.types.is_datetime64_any_dtype(x) for x in (g, w))
        if g_time or w_time:
            if not (g_time and w_time) or getattr(g.dt, "tz", None) != getattr(w.dt, "tz", None):
                return False
            a, b = (
                g.dt.tz_localize(None) if g.dt.tz else g,
                w.dt.tz_localize(None) if w.dt.tz else w,
            )
            a, b = a.to_numpy(), b.to_numpy()  # datetime64 arrays: compared in C, any unit
        else:
            a, b = g.to_numpy(dtype=object), w.to_numpy(dtype=object)
        if not ((a == b) | (pd.isna(a) & pd.isna(b))).all():
            return False
    return True


def same_column(got: pd.DataFrame, column: str, wrong) -> bool:
    """True when the learner's column equals what a known mistake produces."""
    if column not in got.columns or len(got) != len(wrong):
        return False
    a = pd.to_numeric(got[column], errors="coerce").astype("float64").to_numpy()
    b = np.asarray(wrong, dtype=float)
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))


# ----- task 1: clean the weather table ---------------------------------------------------------
def check_clean_types(got: pd.DataFrame, name: str) -> None:
    if "time" in got.columns and not pd.api.types.is_datetime64_any_dtype(got["time"]):
        fail(
            f"{name} column 'time' has dtype {got['time'].dtype}; expected datetime64: build it "
            "with pd.to_datetime(raw[['year', 'month', 'day', 'hour']])"
        )
    if "origin" in got.columns and not isinstance(got["origin"].dtype, pd.CategoricalDtype):
        fail(
            f"{name} column 'origin' has dtype {got['origin'].dtype}; expected category "
            "(.astype('category'))"
        )


@pytest.mark.task(1)
def test_clean_weather_real_table(learner, tables, cleaned):
    raw = tables["weather"].copy()
    name = "clean_weather(weather)"
    got = is_frame(learner.clean_weather(raw), name)
    if not raw.equals(tables["weather"]):
        fail(f"{name} modified the raw table it was given; work on a copy and return it")
    want = cleaned
    check_clean_types(got, name)
    if frames_match(got, want, column_order=True):
        return
    if not got.index.equals(pd.RangeIndex(len(got))) and frames_match(
        got.reset_index(drop=True), want, column_order=True
    ):
        index = list(got.index)
        row = next(i for i, label in enumerate(index) if label != i)
        fail(
            f"{name} has the right rows in the right order, but row {row} has index "
            f"{index[row]}: expected the index 0 … {len(want) - 1} — "
            "reset_index(drop=True) after dropping and sorting"
        )
    if "wind_speed" in got.columns and (got["wind_speed"] > 200).any():
        top = got["wind_speed"].max()
        fail(
            f"{name} column 'wind_speed' still contains {top:g}: the assignment meant to set "
            "it to NaN changed nothing. With copy-on-write, chained assignment such as "
            "df['wind_speed'][mask] = np.nan writes into a temporary copy; assign in one step "
            "with df.loc[mask, 'wind_speed'] = np.nan"
        )
    if "pressure" in got.columns and not got["pressure"].isna().any():
        fail(
            f"{name} column 'pressure' has no missing value left, but {raw['pressure'].isna().sum()} "
            "pressures are missing in the raw table: they were filled (with 0?). Leave them NaN"
        )
    if len(got) == len(raw) and {"origin", "time"} <= set(got.columns):
        if got.duplicated(["origin", "time"]).any():
            fail(
                f"{name} has {len(got)} rows; expected {len(want)}: the repeated (origin, time) "
                "rows of 2013-11-03 01:00 (daylight saving time ends, the clock shows 1 am twice) "
                "are still there — drop_duplicates(subset=['origin', 'time'], keep='first')"
            )
        fail(
            f"{name} column 'time' never repeats, so the rows of 2013-11-03 01:00 (shown twice "
            "when daylight saving time ends) were not recognised: was `time` built from "
            "time_hour (UTC) instead of the local year, month, day and hour columns?"
        )
    assert_frame(
        got, want, name=name, check_column_order=True, mistakes=clean_mistakes(tables["weather"])
    )


def clean_mistakes(raw: pd.DataFrame) -> dict:
    return {
        "the later row of each repeated (origin, time) pair kept (keep='last'): keep the one "
        "that comes first in raw (keep='first')": lambda: ref_clean(raw, keep="last"),
        "wind speeds of exactly 200 mph set to NaN (>= 200): only speeds above 200 are "
        "errors": lambda: ref_clean(raw, wind_at_least=True),
    }


def shuffled_sample(raw: pd.DataFrame) -> pd.DataFrame:
    """A small raw table in a scrambled order, with a DST twin pair and the 1048 mph record."""
    dst = raw[(raw["month"] == 11) & (raw["day"] == 3) & raw["hour"].isin([0, 1, 2])]
    outlier = raw[raw["wind_speed"] > 200]
    some = raw.iloc[[5, 9000, 9001, 20000, 25000, 12]]
    gale = raw.iloc[[15000]].assign(wind_speed=200.0)  # exactly 200 mph: kept (rule: > 200)
    sample = pd.concat([dst[dst["origin"] != "EWR"], outlier, some, gale])
    order = np.random.default_rng(7).permutation(len(sample))
    return sample.iloc[order].reset_index(drop=True)


@pytest.mark.task(1)
def test_clean_weather_sorts_a_shuffled_table(learner, tables):
    raw = shuffled_sample(tables["weather"])
    name = "clean_weather(a shuffled sample of weather)"
    got = is_frame(learner.clean_weather(raw.copy()), name)
    want = ref_clean(raw)
    check_clean_types(got, name)
    if frames_match(got, want, column_order=True):
        return
    if {"origin", "time"} <= set(got.columns) and len(got) == len(want):
        keys = list(zip(got["origin"].astype(str), got["time"], strict=True))
        if keys != sorted(keys):
            bad = next(i for i in range(1, len(keys)) if keys[i] < keys[i - 1])
            fail(
                f"{name} is not sorted by origin, then time: row {bad} "
                f"({keys[bad][0]}, {keys[bad][1]}) comes after ({keys[bad - 1][0]}, "
                f"{keys[bad - 1][1]}). The real table arrives sorted, this one does not: "
                "sort_values(['origin', 'time'])"
            )
        if not got.index.equals(pd.RangeIndex(len(got))):
            fail(
                f"{name} has index {list(got.index)[:6]}…; expected 0 … {len(got) - 1}: "
                "reset_index(drop=True) after sorting"
            )
    assert_frame(got, want, name=name, check_column_order=True, mistakes=clean_mistakes(raw))


# ----- task 2: merge ---------------------------------------------------------------------------
def check_flight_order(got: pd.DataFrame, flights: pd.DataFrame, name: str) -> None:
    """Name flights that are all there but in another order (the index alone cannot show it)."""
    columns = list(flights.columns)
    if len(got) != len(flights) or not set(columns) <= set(got.columns):
        return
    try:
        rows = got[columns].astype(str).agg("\x1f".join, axis=1).tolist()
        originals = flights[columns].astype(str).agg("\x1f".join, axis=1).tolist()
    except (TypeError, ValueError):
        return
    if rows == originals or sorted(rows) != sorted(originals):
        return
    first = next(i for i, (a, b) in enumerate(zip(rows, originals, strict=True)) if a != b)
    moved = int(sum(a != b for a, b in zip(rows, originals, strict=True)))
    fail(
        f"{name} holds every flight, but {moved} of {len(flights)} are in another order "
        f"(row {first} is not the flight that was row {first} of flights): keep the flights "
        "in their original order — a left merge keeps it, so do not sort before or after"
    )


def check_enriched_shape(got: pd.DataFrame, flights: pd.DataFrame, planes, name: str) -> None:
    clashes = [c for c in got.columns if str(c).endswith(("_x", "_y"))]
    if clashes:
        fail(
            f"{name} has columns {clashes}: flights and planes (or airlines) share column names "
            "such as `year` and `rownames`, so pandas added _x/_y suffixes. Select the columns "
            "you need from planes and rename year → plane_year before merging"
        )
    if len(got) < len(flights):
        unknown = int((~flights["tailnum"].isin(planes["tailnum"])).sum())
        fail(
            f"{name} has {len(got)} rows; expected {len(flights)}: {len(flights) - len(got)} "
            f"flights were dropped ({unknown} flights have a tailnum that planes does not "
            "know). An inner join (merge's default how='inner') silently drops rows without "
            "a match: use how='left'"
        )
    if len(got) > len(flights):
        fail(
            f"{name} has {len(got)} rows; expected {len(flights)}: some flights were repeated. "
            "A key that appears several times in the right-hand table multiplies rows; join on "
            "a table with one row per tailnum / carrier"
        )


@pytest.mark.task(2)
def test_add_plane_and_airline_real_tables(learner, tables, enriched):
    flights, planes, airlines = tables["flights"], tables["planes"], tables["airlines"]
    name = "add_plane_and_airline(flights, planes, airlines)"
    got = is_frame(
        learner.add_plane_and_airline(flights.copy(), planes.copy(), airlines.copy()), name
    )
    want = enriched
    if frames_match(got, want):
        return
    check_enriched_shape(got, flights, planes, name)
    check_flight_order(got, flights, name)
    assert_frame(got, want, name=name, clues={"order": "keep the flights in their order"})


@pytest.mark.task(2)
def test_add_plane_and_airline_keeps_order_and_unknowns(learner):
    flights = pd.DataFrame(
        {
            "year": 2013,
            "month": [3, 1, 2, 1, 5],
            "carrier": ["UA", "AA", "ZZ", "UA", "AA"],
            "tailnum": ["N200", "N100", "N100", "N999", "N300"],
            "dep_delay": [5, -3, 40, 0, 12],
        }
    )
    planes = pd.DataFrame(
        {
            "tailnum": ["N300", "N100", "N200"],
            "year": [2010.0, np.nan, 1995.0],
            "seats": [180, 55, 200],
            "engines": 2,
        }
    )
    airlines = pd.DataFrame({"carrier": ["UA", "AA"], "name": ["United", "American"]})
    name = "add_plane_and_airline on a small table (carrier ZZ and tailnum N999 are unknown)"
    got = is_frame(learner.add_plane_and_airline(flights.copy(), planes.copy(), airlines), name)
    want = ref_enrich(flights, planes, airlines)
    if frames_match(got, want):
        return
    check_enriched_shape(got, flights, planes, name)
    check_flight_order(got, flights, name)
    assert_frame(
        got,
        want,
        name=name,
        clues={"order": "the flights must keep their original order (a left join keeps it)"},
    )


# ----- task 3: groupby / aggregate -------------------------------------------------------------
def check_summary(got: pd.DataFrame, enriched: pd.DataFrame, name: str) -> None:
    want = ref_summary(enriched)
    if frames_match(got, want):
        return
    if len(got) == len(want) and set(got.index) == set(want.index):
        aligned = got.reindex(want.index)
        if same_column(
            aligned, "mean_plane_year", ref_summary(enriched, fill_zero=True)["mean_plane_year"]
        ) and not same_column(aligned, "mean_plane_year", want["mean_plane_year"]):
            fail(
                f"{name} column 'mean_plane_year' looks like the missing plane years were "
                "filled with 0 before the mean (a plane built in the year 0): leave them NaN, "
                "mean() skips NaN"
            )
        at_least = ref_summary(enriched, cut=lambda d: d >= 15)["share_delayed"]
        if same_column(aligned, "share_delayed", at_least) and not same_column(
            aligned, "share_delayed", want["share_delayed"]
        ):
            fail(f"{name} column 'share_delayed' counts dep_delay >= 15; the task says > 15")
        groups = enriched.groupby("airline")
        for column in ("plane_year", "dep_delay", "seats"):
            if column not in enriched.columns or not enriched[column].isna().any():
                continue
            known = groups[column].count().reindex(want.index)
            if same_column(aligned, "flights", known) and not same_column(
                aligned, "flights", want["flights"]
            ):
                fail(
                    f"{name} column 'flights' holds the number of known (non-missing) "
                    f"{column} values: count() skips NaN. The number of flights is the number "
                    "of rows — size()"
                )
    assert_frame(
        got,
        want,
        name=name,
        clues={
            "order": "rows must be sorted by mean_dep_delay, largest first "
            "(sort_values('mean_dep_delay', ascending=False)); was the sorting lost?"
        },
    )


@pytest.mark.task(3)
def test_carrier_summary_real_table(learner, enriched):
    name = "carrier_summary(enriched flights)"
    got = is_frame(learner.carrier_summary(enriched.copy()), name)
    check_summary(got, enriched, name)


@pytest.mark.task(3)
def test_carrier_summary_small_table(learner):
    enriched = pd.DataFrame(
        {
            "airline": ["Beta", "Alpha", "Beta", "Gamma", "Alpha", "Beta", "Gamma"],
            "dep_delay": [15, 60, 16, -5, -1, 2, 7],
            "plane_year": [2001.0, np.nan, np.nan, np.nan, np.nan, 2011.0, np.nan],
            "seats": 100.0,
        }
    )
    name = "carrier_summary on a small table (Alpha and Gamma have no known plane)"
    got = is_frame(learner.carrier_summary(enriched.copy()), name)
    check_summary(got, enriched, name)


# ----- task 4: pivot ---------------------------------------------------------------------------
def check_pivot(got: pd.DataFrame, flights: pd.DataFrame, name: str) -> None:
    want = ref_pivot(flights)
    if frames_match(got, want, column_order=True):
        return
    if set(got.columns) == set(want.index) and set(got.index) == set(want.columns):
        fail(
            f"{name} has months as columns and airports as rows; expected the transpose: "
            "index='month', columns='origin'"
        )
    if got.shape == want.shape and got.isna().sum().sum() < want.isna().sum().sum():
        fail(
            f"{name} has numbers where the reference has NaN (a month with no flight from that "
            "airport): an empty cell has no mean, leave it NaN (no fill_value=0)"
        )
    for how in ("median", "sum", "count"):
        wrong = ref_pivot(flights, how)
        if got.shape == wrong.shape and np.allclose(
            got.to_numpy(dtype=float), wrong.to_numpy(dtype=float), equal_nan=True
        ):
            fail(f"{name} holds the {how} of dep_delay per cell; expected the mean")
    assert_frame(
        got,
        want,
        name=name,
        check_column_order=True,
        clues={"order": "months must be in ascending order"},
    )


@pytest.mark.task(4)
def test_delay_pivot_real_table(learner, tables):
    flights = tables["flights"]
    name = "delay_pivot(flights)"
    got = is_frame(learner.delay_pivot(flights.copy()), name)
    check_pivot(got, flights, name)


@pytest.mark.task(4)
def test_delay_pivot_small_table(learner):
    flights = pd.DataFrame(
        {
            "month": [7, 2, 7, 2, 11, 7],
            "origin": ["LGA", "JFK", "EWR", "JFK", "LGA", "LGA"],
            "dep_delay": [10, -4, 3, 8, 0, 31],
        }
    )
    name = "delay_pivot on a small table (no EWR flight in months 2 and 11)"
    got = is_frame(learner.delay_pivot(flights.copy()), name)
    check_pivot(got, flights, name)


# ----- task 5: resample ------------------------------------------------------------------------
def check_daily(got: pd.DataFrame, weather: pd.DataFrame, origin: str, name: str) -> None:
    want = ref_daily(weather, origin)
    if frames_match(got, want):
        return
    if not isinstance(got.index, pd.DatetimeIndex):
        fail(
            f"{name} has an index of type {type(got.index).__name__} "
            f"(first value {got.index[0]!r}); expected a DatetimeIndex of days: "
            "set_index('time').resample('D')"
            if len(got)
            else f"{name} is empty; expected {len(want)} days"
        )
    if got.index.has_duplicates:
        fail(
            f"{name} has repeated days in its index: the three airports were not separated — "
            "keep only the rows of the requested origin first"
        )
    if len(got) == len(want) and got.index.equals(want.index):
        if same_column(
            got, "pressure_mean", ref_daily(weather, origin, fill_zero=True)["pressure_mean"]
        ) and not same_column(got, "pressure_mean", want["pressure_mean"]):
            fail(
                f"{name} column 'pressure_mean' looks like missing pressures were filled with 0 "
                "before the mean; leave them NaN (mean() skips NaN)"
            )
        if same_column(got, "temp_mean", ref_daily(weather, None)["temp_mean"]):
            fail(
                f"{name} mixes all three airports: keep only the rows where origin == "
                f"{origin!r} before resampling"
            )
    assert_frame(got, want, name=name)


@pytest.mark.task(5)
@pytest.mark.parametrize("origin", ["JFK", "EWR"])
def test_daily_weather_real_table(learner, cleaned, origin):
    weather = cleaned
    name = f"daily_weather(cleaned weather, {origin!r})"
    got = is_frame(learner.daily_weather(weather.copy(), origin), name)
    check_daily(got, weather, origin, name)


@pytest.mark.task(5)
def test_daily_weather_small_table(learner):
    weather = pd.DataFrame(
        {
            "origin": pd.Categorical(["LGA", "LGA", "JFK", "LGA", "LGA", "LGA"]),
            "time": pd.to_datetime(
                [
                    "2013-03-02 23:00",
                    "2013-03-01 01:00",
                    "2013-03-01 02:00",
                    "2013-03-02 00:00",
                    "2013-03-01 13:00",
                    "2013-03-03 09:00",
                ]
            ),
            "temp": [40.0, 31.0, 99.0, 35.0, 45.0, 50.0],
            "wind_speed": [3.0, np.nan, 50.0, 12.0, 8.0, 6.0],
            "precip": [0.0, 0.25, 3.0, 0.5, 0.0, 0.0],
            "pressure": [1001.0, np.nan, 990.0, 1003.0, 1010.0, np.nan],
            "visib": 10.0,
        }
    )
    name = "daily_weather on a small shuffled table ('LGA'; no pressure reading on 2013-03-03)"
    got = is_frame(learner.daily_weather(weather.copy(), "LGA"), name)
    check_daily(got, weather, "LGA", name)
