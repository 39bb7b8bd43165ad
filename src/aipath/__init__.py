"""aipath: the AI-engineer roadmap you can run."""

__version__ = "0.1.0"
