"""The plan's charts, built with plotly.graph_objects and sent to the page as figure JSON.

The browser only calls ``Plotly.newPlot`` on what is built here: no chart code is written by
hand in JavaScript, and the Plotly bundle comes from the installed Python package.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import cache
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from aipath.planner.model import Plan
from aipath.web.schemas import WeekHours

ORIGINAL = "#94a3b8"
PROJECTED = "#4f46e5"
LOGGED = "#10b981"
MILESTONE = "#f59e0b"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
DAY_MS = 24 * 3600 * 1000


@cache
def _template() -> dict[str, Any]:
    """plotly_white as JSON, made once: validating a template per figure cost most of a page."""
    template: dict[str, Any] = pio.templates["plotly_white"].to_plotly_json()
    return template


def _figure() -> go.Figure:
    """An empty figure on the empty template; :func:`figure_data` adds plotly_white."""
    return go.Figure(layout={"template": "none"})


def _layout(fig: go.Figure, height: int) -> None:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 20},
        font={"family": FONT, "size": 13, "color": "#1f2937"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"family": FONT}},
    )


def _span(start: date, end: date) -> int:
    """Bar length in milliseconds for a phase that runs from ``start`` to ``end`` inclusive."""
    return ((end - start).days + 1) * DAY_MS


def timeline_figure(plan: Plan) -> go.Figure:
    """Phases as bars on a calendar (original plan and the projection from measured pace)."""
    labels = [f"{ph.number}. {ph.title}" for ph in plan.phases]
    fig = _figure()
    fig.add_trace(
        go.Bar(
            name="original plan",
            orientation="h",
            y=labels,
            base=[ph.start.isoformat() for ph in plan.phases],
            x=[_span(ph.start, ph.end) for ph in plan.phases],
            marker={"color": ORIGINAL},
            customdata=[[ph.start.isoformat(), ph.end.isoformat()] for ph in plan.phases],
            hovertemplate="%{y}<br>%{customdata[0]} → %{customdata[1]}<extra>original</extra>",
        )
    )
    # A phase under way has no projected start (it began when it began): its projected bar
    # runs from its actual start to the projected end, so the current phase is never missing.
    projected = [(ph, ph.projected_start or ph.start, ph.projected_end) for ph in plan.phases]
    shown = [(ph, start, end) for ph, start, end in projected if end is not None]
    if shown:
        fig.add_trace(
            go.Bar(
                name="projected from your pace",
                orientation="h",
                y=[f"{ph.number}. {ph.title}" for ph, _, _ in shown],
                base=[start.isoformat() for _, start, _ in shown],
                x=[_span(start, end) for _, start, end in shown],
                marker={"color": PROJECTED},
                customdata=[[start.isoformat(), end.isoformat()] for _, start, end in shown],
                hovertemplate="%{y}<br>%{customdata[0]} → %{customdata[1]}<extra>projected</extra>",
            )
        )
    milestones: list[tuple[str, date, str]] = [
        ("job-ready", plan.job_ready, "diamond"),
        ("finish", plan.finish, "star"),
    ]
    if plan.projected_job_ready is not None:
        milestones.append(("job-ready, projected", plan.projected_job_ready, "diamond-open"))
    if plan.projected_finish is not None:
        milestones.append(("finish, projected", plan.projected_finish, "star-open"))
    for name, day, symbol in milestones:
        fig.add_trace(
            go.Scatter(
                name=name,
                mode="markers",
                y=["Milestones"],
                x=[day.isoformat()],
                marker={
                    "symbol": symbol,
                    "size": 15,
                    "color": PROJECTED if "projected" in name else MILESTONE,
                    "line": {"width": 2, "color": PROJECTED if "projected" in name else MILESTONE},
                },
                hovertemplate=f"{name}: %{{x|%d %b %Y}}<extra></extra>",
            )
        )
    today = plan.today.isoformat()
    fig.add_shape(
        type="line",
        x0=today,
        x1=today,
        y0=0,
        y1=1,
        yref="paper",
        line={"color": "#ef4444", "width": 2, "dash": "dot"},
    )
    fig.add_annotation(
        x=today, y=1, yref="paper", text="today", showarrow=False, yanchor="bottom", font_size=11
    )
    _layout(fig, height=120 + 48 * (len(labels) + 1))
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_yaxes(
        autorange="reversed",
        categoryorder="array",
        categoryarray=["Milestones", *labels],
    )
    fig.update_xaxes(type="date", tickformat="%b %Y")
    return fig


def week_hours(
    plan: Plan, daily_minutes: dict[date, float], *, past: int = 12, ahead: int = 3
) -> list[WeekHours]:
    """Planned and logged hours for the last ``past`` weeks of the plan and ``ahead`` to come."""
    current = max(1, (plan.today - plan.start).days // 7 + 1)
    weeks: list[WeekHours] = []
    for week in range(max(1, current - past + 1), current + ahead + 1):
        start = plan.start + timedelta(days=7 * (week - 1))
        minutes = sum(daily_minutes.get(start + timedelta(days=d), 0.0) for d in range(7))
        weeks.append(
            WeekHours(
                week=week,
                start=start,
                planned_hours=plan.profile.hours_per_week,
                logged_hours=round(minutes / 60.0, 2) if week <= current else None,
            )
        )
    return weeks


def hours_figure(weeks: list[WeekHours]) -> go.Figure:
    """Hours planned against hours logged (reading plus measured lab time), week by week."""
    labels = [f"week {w.week}<br>{w.start:%d %b}" for w in weeks]
    fig = _figure()
    fig.add_trace(
        go.Bar(
            name="planned",
            x=labels,
            y=[w.planned_hours for w in weeks],
            marker={"color": ORIGINAL},
            hovertemplate="%{y:.1f} h planned<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            name="logged",
            x=labels,
            y=[w.logged_hours for w in weeks],  # None (not drawn) for weeks still to come
            marker={"color": LOGGED},
            hovertemplate="%{y:.1f} h logged<extra></extra>",
        )
    )
    _layout(fig, height=320)
    fig.update_layout(
        barmode="group",
        bargap=0.3,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    fig.update_yaxes(title_text="hours", rangemode="tozero")
    return fig


def figure_data(fig: go.Figure) -> dict[str, Any]:
    """The figure as plain JSON data (what ``Plotly.newPlot`` takes)."""
    data: dict[str, Any] = json.loads(fig.to_json())
    data.setdefault("layout", {})["template"] = _template()
    return data
