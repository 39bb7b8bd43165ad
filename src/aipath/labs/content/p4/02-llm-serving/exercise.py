"""The ideas behind vLLM on a tiny GPT: a KV cache, then continuous batching. The file you edit.

Read README.md first. The model is ``tinygpt.TinyGPT`` (read tinygpt.py: you reuse its parts by
name). Shapes: B batch, H heads, T cached positions, t new positions, D = d_head, C = d_model,
V vocabulary. A layer's cache is a tuple ``(keys, values)``, each ``(B, H, T, D)``; a model's
cache is a list with one such tuple per block.
"""

from __future__ import annotations

import time  # noqa: F401  (task 3)
from collections import deque  # noqa: F401  (task 5)
from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: F401
from tinygpt import Request, TinyGPT, generate_uncached  # noqa: F401
from torch import Tensor

LayerCache = tuple[Tensor, Tensor]  # (keys, values), each (B, H, T, D)


# ----- task 1 -----------------------------------------------------------------------------------
def attend(q: Tensor, k: Tensor, v: Tensor, cache: LayerCache | None) -> tuple[Tensor, LayerCache]:
    """Attention of t new queries over the T cached positions and the t new ones, causally.

    ``q, k, v``: ``(B, H, t, D)`` for the new positions; ``cache``: ``None`` or ``(past_k,
    past_v)``, each ``(B, H, T, D)``. Returns ``(out, (keys, values))``: ``out (B, H, t, D)``
    and the cache with the new positions appended, ``(B, H, T + t, D)`` each. New query ``i``
    sits at position ``T + i`` and reads keys ``0 … T + i``. Leaves its inputs unchanged.

    >>> out, (keys, values) = attend(q, k, v, None)          # prefill: t = 5, T = 0
    >>> out.shape, keys.shape
    (torch.Size([2, 4, 5, 16]), torch.Size([2, 4, 5, 16]))
    >>> out, (keys, values) = attend(q1, k1, v1, (keys, values))   # one new token
    >>> keys.shape
    torch.Size([2, 4, 6, 16])
    """
    # TODO: append along dim 2, then attention with a causal mask offset by T
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
@torch.no_grad()
def forward_cached(
    model: TinyGPT, idx: Tensor, cache: list[LayerCache] | None
) -> tuple[Tensor, list[LayerCache]]:
    """Logits ``(B, t, V)`` of the new tokens ``idx (B, t)``, placed after the cached ones.

    ``cache``: ``None`` (nothing cached yet) or one ``(keys, values)`` per block, all with the
    same ``T``. Returns ``(logits, new_cache)``, the new cache holding ``T + t`` positions per
    layer. The logits equal ``model(whole sequence)[:, T:]``; only the new tokens go through
    the model. Does not change the cache it is given.

    >>> logits, cache = forward_cached(model, prompt, None)      # (2, 10) → logits (2, 10, 96)
    >>> logits, cache = forward_cached(model, nxt, cache)        # (2, 1)  → logits (2, 1, 96)
    >>> cache[0][0].shape
    torch.Size([2, 4, 11, 16])
    """
    # TODO: positions T … T + t − 1; per block: qkv(ln1(x)) → split_heads → attend → proj, mlp
    raise NotImplementedError


@torch.no_grad()
def generate_cached(model: TinyGPT, idx: Tensor, max_new_tokens: int) -> Tensor:
    """Greedy decoding with the cache: ``(B, T)`` → ``(B, T + max_new_tokens)`` int64.

    One prefill of the whole prompt (it gives the first new token), then one forward pass of
    one token per further new token. Equal, token for token, to
    ``generate_uncached(model, idx, max_new_tokens)``.
    """
    # TODO
    raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def measure_speedup(
    model: TinyGPT, idx: Tensor, max_new_tokens: int, repeats: int = 3
) -> dict[str, float]:
    """Wall time of ``generate_uncached`` and of ``generate_cached`` on the same prompt.

    Returns ``{"uncached_s": …, "cached_s": …, "speedup": uncached_s / cached_s}``: for each
    decoder, the best of ``repeats`` timed runs (``time.perf_counter``) after one untimed
    warm-up run.
    """
    # TODO
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
@torch.no_grad()
def decode_batch(
    model: TinyGPT, tokens: Tensor, caches: Sequence[list[LayerCache]]
) -> tuple[Tensor, list[list[LayerCache]]]:
    """One decoding step for R sequences of different lengths, in one batched forward pass.

    ``tokens (R,)`` int64: each sequence's newest token; ``caches[r]``: sequence ``r``'s own
    cache (one ``(keys, values)`` per block, each ``(1, H, T_r, D)``). Returns ``(logits (R, V),
    new_caches)``, ``new_caches[r]`` holding ``T_r + 1`` positions (no padding stored). Row
    ``r`` of the logits equals ``forward_cached(model, tokens[r].view(1, 1), caches[r])``'s.
    """
    # TODO: token r at position T_r; pad the keys/values to one length and mask the padding
    raise NotImplementedError


# ----- task 5 -----------------------------------------------------------------------------------
def serve(
    model: TinyGPT, requests: Sequence[Request], budget: int
) -> tuple[dict[str, list[int]], list[dict[str, list[str]]]]:
    """Continuous batching under a KV-cache budget of ``budget`` positions (tokens).

    Returns ``(outputs, trace)``: ``outputs[request.id]`` its ``max_new_tokens`` new token ids
    (a list of int, no prompt), and one dict per step,
    ``{"admitted": [ids], "decoded": [ids], "finished": [ids]}``. ValueError if a request needs
    more than the whole budget. The rules of a step are in README.md, task 5.
    """
    # TODO
    raise NotImplementedError
