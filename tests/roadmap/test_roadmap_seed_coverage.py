"""Everything a reader would pick out of the seed article can be found in the roadmap data."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aipath.cli import app

# Phrases a reader would underline in the seed's phase sections, resources and hiring advice.
SEED_PHRASES = [
    # phase 1
    "pandas", "NumPy", "asyncio", "REST", "WebSockets", "pytest", "mypy",
    "eigenvectors", "gradients", "Bayesian", "hypothesis test", "KL divergence", "cross-entropy",
    "Git LFS", "pull requests", "code review", "merge conflicts", "ReviewNB", "Jupytext",
    # phase 2
    "cross-validation", "hyperparameter", "XGBoost", "LightGBM", "Feature engineering",
    "ROC-AUC", "F1", "Titanic", "Kaggle", "stationarity", "ACF/PACF", "seasonal decomposition",
    "TF-IDF", "README",
    # phase 3
    "backpropagation", "autograd", "DataLoader", "ResNet", "LSTM", "TensorFlow", "multi-head",
    "positional encodings", "layer normalization", "residual connections", "encoder-decoder",
    "Pre-training", "model hub", "zero-shot", "few-shot", "chain-of-thought", "vector database",
    "embedding", "chunking", "LoRA", "QLoRA", "parameter-efficient", "4-bit", "8-bit", "BLEU", "ROUGE",
    "LangChain", "LlamaIndex", "Pinecone", "Weaviate", "Chroma",
    # phase 4
    "Designing the ML-powered application", "ML experimentation and development",
    "Docker Compose", "Kubernetes", "Kubeflow", "MLflow", "FastAPI", "Triton", "vLLM",
    "drift", "data quality", "Prometheus", "Grafana", "continuous training", "GitHub Actions",
    "GitLab CI", "Manual process", "ML pipeline automation", "CI/CD pipeline automation",
    # phase 5
    "Advanced fine-tuning", "Multi-modal", "Speech recognition", "synthesis",
    "Low-resource language", "YOLO", "Detectron2", "segmentation", "Stable Diffusion", "GANs",
    "action recognition", "medical imaging", "ReAct", "Reflexion", "multi-agent",
    "function calling", "Long-horizon planning", "external APIs", "Policy gradient",
    "Q-learning", "deep Q-network", "robotics", "game playing", "recommendation systems",
    # resources
    "Automate the Boring Stuff", "Fluent Python", "3Blue1Brown", "Essence of Linear Algebra",
    "Deisenroth", "Faisal", "Ong", "Andrew Ng", "Coursera", "Géron", "fast.ai", "Goodfellow",
    "Bengio", "Courville", "Hugging Face", "Tunstall", "von Werra", "Wolf", "Goku Mohandas",
    "ml-ops.org",
    # hiring and the job-ready note
    "End-to-end ownership", "Software engineering discipline", "Business translation",
    "Continuous learning", "conference talks", "Credentials", "Notebook experiments",
    "Memorized algorithms", "Reddit", "Discord", "GitHub Discussions", "middle of phase 3",
]  # fmt: skip


@pytest.fixture(scope="module")
def roadmap_json() -> str:
    result = CliRunner().invoke(app, ["roadmap", "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.output)
    return result.output.lower()


@pytest.mark.parametrize("phrase", SEED_PHRASES)
def test_seed_phrase_is_in_the_roadmap(roadmap_json: str, phrase: str) -> None:
    assert phrase.lower() in roadmap_json
