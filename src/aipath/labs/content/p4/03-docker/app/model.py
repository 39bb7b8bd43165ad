"""The churn model: a logistic regression whose weights live in a JSON file next to the code."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Model:
    name: str
    version: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def score(self, values: dict[str, float]) -> float:
        """The churn probability for one customer (every feature must be present)."""
        z = self.bias + sum(w * values[f] for f, w in zip(self.features, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


def load_model(path: Path) -> Model:
    """Read a model file; fails loudly (FileNotFoundError, KeyError) when it is missing or wrong."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Model(
        name=str(raw["name"]),
        version=str(raw["version"]),
        features=tuple(raw["features"]),
        weights=tuple(float(w) for w in raw["weights"]),
        bias=float(raw["bias"]),
    )
