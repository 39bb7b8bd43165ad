"""The app's own tests (run them with `pytest tests` from this folder; they are not for the image)."""

from app.main import app
from fastapi.testclient import TestClient


def test_health_and_predict() -> None:
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok", "model": "churn-v3"}
        response = client.post(
            "/predict", json={"tenure_months": 2, "monthly_charges": 80, "support_calls": 3}
        )
        assert response.status_code == 200
        assert 0.0 < response.json()["churn_probability"] < 1.0
