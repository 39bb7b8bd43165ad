"""The HTTP API: GET /health (is the process up and the model loaded?) and POST /predict.

Run it locally with `uvicorn app.main:app --reload` from this folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from app import db, settings
from app.model import load_model


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.model = load_model(settings.MODEL_FILE)  # once, at startup
    yield


app = FastAPI(title="churn-scorer", lifespan=lifespan)


class Customer(BaseModel):
    tenure_months: float = Field(ge=0)
    monthly_charges: float = Field(ge=0)
    support_calls: float = Field(ge=0)


class Prediction(BaseModel):
    model_version: str
    churn_probability: float


@app.get("/health")
def health(request: Request) -> dict[str, str]:
    """Liveness: answers as soon as the model is loaded; it does not touch the database."""
    return {
        "status": "ok",
        "model": f"{request.app.state.model.name}-v{request.app.state.model.version}",
    }


@app.post("/predict")
def predict(customer: Customer, request: Request) -> Prediction:
    model = request.app.state.model
    features = customer.model_dump()
    score = model.score(features)
    url = settings.database_url()
    if url is not None:
        db.log_prediction(url, model.version, features, score)
    return Prediction(model_version=model.version, churn_probability=round(score, 6))
