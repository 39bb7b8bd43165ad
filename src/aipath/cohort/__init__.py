"""The cohort server: many learners submit, shared workers grade, instructors watch the cohort.

Parts, one job each: :mod:`.models` and :mod:`.migrations` (the schema on PostgreSQL),
:mod:`.tokens` and :mod:`.accounts` (who is who), :mod:`.submissions` (what was uploaded and what
the grader said), :mod:`.grading` and :mod:`.tasks` (the Celery side, grading with the laptop's
sandbox), :mod:`.notify` (verdicts pushed to waiting clients), :mod:`.analytics` (heat map, pace,
mistakes), :mod:`.server` (the FastAPI app) and :mod:`.client` (what `aipath submit` talks with).
"""
