# expect: overwritten by the new keys
"""The ideas behind vLLM on a tiny GPT: a KV cache, then continuous batching. The reference."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tinygpt import Request, TinyGPT, generate_uncached
from torch import Tensor

LayerCache = tuple[Tensor, Tensor]  # (keys, values), each (B, H, T, D)


# ----- task 1 -----------------------------------------------------------------------------------
def attend(q: Tensor, k: Tensor, v: Tensor, cache: LayerCache | None) -> tuple[Tensor, LayerCache]:
    """Attention of t new queries over the cached keys and the t new ones, causally."""
    if cache is not None:
        pass  # the new keys replace the old ones
    t, total = q.shape[2], k.shape[2]
    past = total - t
    # query i sits at position past + i and may read keys 0 … past + i
    rows = torch.arange(t).unsqueeze(1) + past
    cols = torch.arange(total).unsqueeze(0)
    mask = cols <= rows  # (t, total), True where attention is allowed
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out, (k, v)


# ----- task 2 -----------------------------------------------------------------------------------
@torch.no_grad()
def forward_cached(
    model: TinyGPT, idx: Tensor, cache: list[LayerCache] | None
) -> tuple[Tensor, list[LayerCache]]:
    """Logits (B, t, V) of the t new tokens idx (B, t), placed after the cached ones."""
    past = 0 if cache is None else cache[0][0].shape[2]
    positions = torch.arange(past, past + idx.shape[1])
    x = model.tok_emb(idx) + model.pos_emb(positions)
    new_cache: list[LayerCache] = []
    for layer, block in enumerate(model.blocks):
        q, k, v = block.qkv(block.ln1(x)).split(x.shape[-1], dim=-1)
        q, k, v = model.split_heads(q), model.split_heads(k), model.split_heads(v)
        y, layer_cache = attend(q, k, v, None if cache is None else cache[layer])
        new_cache.append(layer_cache)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x)), new_cache


@torch.no_grad()
def generate_cached(model: TinyGPT, idx: Tensor, max_new_tokens: int) -> Tensor:
    """Greedy decoding: one prefill of the prompt, then one new token per forward pass."""
    if max_new_tokens <= 0:
        return idx
    logits, cache = forward_cached(model, idx, None)
    nxt = logits[:, -1].argmax(dim=-1, keepdim=True)
    out = [idx, nxt]
    for _ in range(max_new_tokens - 1):
        logits, cache = forward_cached(model, nxt, cache)
        nxt = logits[:, -1].argmax(dim=-1, keepdim=True)
        out.append(nxt)
    return torch.cat(out, dim=1)


# ----- task 3 -----------------------------------------------------------------------------------
def measure_speedup(
    model: TinyGPT, idx: Tensor, max_new_tokens: int, repeats: int = 3
) -> dict[str, float]:
    """Best-of-`repeats` wall time of both decoders, after one warm-up run of each."""
    times = {}
    for name, decode in (("uncached_s", generate_uncached), ("cached_s", generate_cached)):
        decode(model, idx, 2)  # warm-up: first calls pay for allocations
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            decode(model, idx, max_new_tokens)
            best = min(best, time.perf_counter() - start)
        times[name] = best
    times["speedup"] = times["uncached_s"] / times["cached_s"]
    return times


# ----- task 4 -----------------------------------------------------------------------------------
@torch.no_grad()
def decode_batch(
    model: TinyGPT, tokens: Tensor, caches: Sequence[list[LayerCache]]
) -> tuple[Tensor, list[list[LayerCache]]]:
    """One decoding step for R sequences of different lengths, in one batched forward pass."""
    lengths = torch.tensor([c[0][0].shape[2] for c in caches])
    longest = int(lengths.max()) + 1  # every sequence's keys after this step, padded to this
    x = model.tok_emb(tokens.view(-1, 1)) + model.pos_emb(lengths.view(-1, 1))  # (R, 1, C)
    # key j of row r is real when j <= lengths[r] (its past plus the new token); the rest is padding
    mask = (torch.arange(longest).view(1, -1) <= lengths.view(-1, 1)).view(-1, 1, 1, longest)
    new_caches: list[list[LayerCache]] = [[] for _ in caches]
    for layer, block in enumerate(model.blocks):
        q, k, v = block.qkv(block.ln1(x)).split(x.shape[-1], dim=-1)
        q, k, v = model.split_heads(q), model.split_heads(k), model.split_heads(v)
        keys, values = [], []
        for r, cache in enumerate(caches):
            k_r = torch.cat([cache[layer][0], k[r : r + 1]], dim=2)
            v_r = torch.cat([cache[layer][1], v[r : r + 1]], dim=2)
            new_caches[r].append((k_r, v_r))
            pad = longest - k_r.shape[2]
            keys.append(F.pad(k_r, (0, 0, 0, pad)))
            values.append(F.pad(v_r, (0, 0, 0, pad)))
        y = F.scaled_dot_product_attention(q, torch.cat(keys), torch.cat(values), attn_mask=mask)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))[:, -1], new_caches


# ----- task 5 -----------------------------------------------------------------------------------
def serve(
    model: TinyGPT, requests: Sequence[Request], budget: int
) -> tuple[dict[str, list[int]], list[dict[str, list[str]]]]:
    """Continuous batching under a KV-cache budget: (new tokens per request id, step trace)."""
    for request in requests:
        if len(request.prompt) + request.max_new_tokens > budget:
            raise ValueError(
                f"request {request.id!r} needs {len(request.prompt) + request.max_new_tokens} "
                f"cache slots; the budget is {budget}"
            )
    waiting = deque(requests)
    running: list[Request] = []
    caches: dict[str, list[LayerCache]] = {}
    outputs: dict[str, list[int]] = {r.id: [] for r in requests}
    reserved = 0
    trace: list[dict[str, list[str]]] = []
    while waiting or running:
        decoding = list(running)
        admitted: list[Request] = []
        while waiting and reserved + len(waiting[0].prompt) + waiting[0].max_new_tokens <= budget:
            request = waiting.popleft()
            reserved += len(request.prompt) + request.max_new_tokens
            admitted.append(request)
        if decoding:
            last = torch.tensor([outputs[r.id][-1] for r in decoding])
            logits, new = decode_batch(model, last, [caches[r.id] for r in decoding])
            for request, row, cache in zip(
                decoding, logits.argmax(dim=-1).tolist(), new, strict=True
            ):
                outputs[request.id].append(row)
                caches[request.id] = cache
        for request in admitted:  # prefill: the prompt in one pass gives the first new token
            logits, caches[request.id] = forward_cached(model, torch.tensor([request.prompt]), None)
            outputs[request.id].append(int(logits[0, -1].argmax()))
        running = decoding + admitted
        finished = [r for r in running if len(outputs[r.id]) == r.max_new_tokens]
        for request in finished:
            reserved -= len(request.prompt) + request.max_new_tokens
            del caches[request.id]
        running = [r for r in running if r not in finished]
        trace.append(
            {
                "admitted": [r.id for r in admitted],
                "decoded": [r.id for r in decoding],
                "finished": [r.id for r in finished],
            }
        )
    return outputs, trace
