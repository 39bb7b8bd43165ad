"""churn-scorer: a small model server (FastAPI) that scores customers for churn risk."""
