"""tinymodel: a small logistic-regression classifier, the project the CI of lab p4-ci-cd checks."""

from tinymodel.data import make_dataset, train_test_split
from tinymodel.metrics import accuracy, f1_score, log_loss
from tinymodel.model import LogisticModel

__all__ = [
    "LogisticModel",
    "accuracy",
    "f1_score",
    "log_loss",
    "make_dataset",
    "train_test_split",
]
