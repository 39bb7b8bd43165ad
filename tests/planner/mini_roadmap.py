"""A small hand-made roadmap for planner tests (imported by the test modules)."""

from __future__ import annotations

from aipath.planner.model import LabInput, PhaseInput, ProjectInput, SkillInput, TopicInput


def _topic(tid: str, *skills: tuple[str, float], track: str | None = None) -> TopicInput:
    return TopicInput(
        id=tid,
        title=tid,
        track=track,
        skills=tuple(SkillInput(f"{tid}.{slug}", f"{tid}.{slug}", hours) for slug, hours in skills),
    )


# Five phases with the seed's month lengths at 20 h/week (3, 3, 4, 4, 4 months × 86.6 h).
MINI_PHASES: tuple[PhaseInput, ...] = (
    PhaseInput(
        "p1",
        1,
        "Foundations",
        260,
        (
            _topic("p1.python", ("numpy", 40), ("asyncio", 40), ("testing", 40)),
            _topic("p1.math", ("linear-algebra", 80)),
            _topic("p1.git", ("basics", 30), ("collaboration", 30)),
        ),
    ),
    PhaseInput("p2", 2, "Core ML", 260, (_topic("p2.ml", ("sklearn-pipeline", 200), ("x", 60)),)),
    PhaseInput("p3", 3, "Deep learning", 346, (_topic("p3.nn", ("a", 173), ("b", 173)),)),
    PhaseInput("p4", 4, "MLOps", 346, (_topic("p4.containers", ("docker", 100), ("rest", 246)),)),
    PhaseInput(
        "p5",
        5,
        "Specialization",
        346,
        (
            _topic("p5.nlp", ("x", 346), track="nlp"),
            _topic("p5.agents", ("react", 300), ("tools", 46), track="agents"),
        ),
    ),
)

MINI_LABS: tuple[LabInput, ...] = (
    LabInput("p1-numpy", "NumPy", 1, "p1.python", ("p1.python.numpy",), 120),
    LabInput("p1-asyncio", "asyncio", 1, "p1.python", ("p1.python.asyncio",), 120, ("p1-numpy",)),
    LabInput("p1-linalg", "linear algebra", 1, "p1.math", ("p1.math.linear-algebra",), 90),
    LabInput("p2-pipeline", "pipeline", 2, "p2.ml", ("p2.ml.sklearn-pipeline",), 180),
    LabInput("p3-a", "nets a", 3, "p3.nn", ("p3.nn.a",), 120),
    LabInput("p3-b", "nets b", 3, "p3.nn", ("p3.nn.b",), 120),
    LabInput("p5-react", "react agent", 5, "p5.agents", ("p5.agents.react",), 180),
    LabInput("p5-nlp", "nlp lab", 5, "p5.nlp", ("p5.nlp.x",), 180),
)

MINI_PROJECTS: tuple[ProjectInput, ...] = (
    ProjectInput("proj.tabular", "Tabular", 2, ("p2.ml.sklearn-pipeline", "p2.ml.x")),
    ProjectInput("proj.rag", "RAG", 3, ("p3.nn.b",)),
    ProjectInput("proj.pipeline", "Pipeline", 4, ("p4.containers.rest",)),
)
