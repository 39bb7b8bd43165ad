# expect: before anything runs
# mistake: raises ValueError only when the too-big request reaches the head of the queue
"""Reference-style solution written by the reviewer."""

from __future__ import annotations

import time
from collections import deque

import torch
import torch.nn.functional as F
from tinygpt import generate_uncached
from torch import Tensor

LayerCache = tuple[Tensor, Tensor]


def attend(q: Tensor, k: Tensor, v: Tensor, cache: LayerCache | None) -> tuple[Tensor, LayerCache]:
    if cache is None:
        keys, values = k, v
    else:
        keys = torch.cat([cache[0], k], dim=2)
        values = torch.cat([cache[1], v], dim=2)
    t = q.shape[2]
    T = keys.shape[2] - t
    mask = torch.arange(T + t)[None, :] <= (torch.arange(t)[:, None] + T)
    out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
    return out, (keys, values)


@torch.no_grad()
def forward_cached(model, idx, cache):
    T = 0 if cache is None else cache[0][0].shape[2]
    t = idx.shape[1]
    x = model.tok_emb(idx) + model.pos_emb(torch.arange(T, T + t))
    C = x.shape[-1]
    new_cache = []
    for layer, block in enumerate(model.blocks):
        q, k, v = block.qkv(block.ln1(x)).split(C, dim=-1)
        q, k, v = model.split_heads(q), model.split_heads(k), model.split_heads(v)
        y, lc = attend(q, k, v, None if cache is None else cache[layer])
        new_cache.append(lc)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x)), new_cache


@torch.no_grad()
def generate_cached(model, idx, max_new_tokens):
    out = idx
    if max_new_tokens <= 0:
        return out
    logits, cache = forward_cached(model, idx, None)
    nxt = logits[:, -1].argmax(-1, keepdim=True)
    out = torch.cat([out, nxt], dim=1)
    for _ in range(max_new_tokens - 1):
        logits, cache = forward_cached(model, nxt, cache)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, nxt], dim=1)
    return out


def measure_speedup(model, idx, max_new_tokens, repeats=3):
    def best(fn):
        fn(model, idx, max_new_tokens)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(model, idx, max_new_tokens)
            times.append(time.perf_counter() - t0)
        return min(times)

    u = best(generate_uncached)
    c = best(generate_cached)
    return {"uncached_s": u, "cached_s": c, "speedup": u / c}


@torch.no_grad()
def decode_batch(model, tokens, caches):
    R = tokens.shape[0]
    lengths = torch.tensor([c[0][0].shape[2] for c in caches])
    L = int(lengths.max()) + 1
    x = model.tok_emb(tokens.view(R, 1)) + model.pos_emb(lengths.view(R, 1))
    C = x.shape[-1]
    mask = (torch.arange(L)[None, :] <= lengths[:, None]).view(R, 1, 1, L)
    new_caches = [[] for _ in range(R)]
    for layer, block in enumerate(model.blocks):
        q, k, v = block.qkv(block.ln1(x)).split(C, dim=-1)
        q, k, v = model.split_heads(q), model.split_heads(k), model.split_heads(v)
        ks, vs = [], []
        for r in range(R):
            kr = torch.cat([caches[r][layer][0], k[r : r + 1]], dim=2)
            vr = torch.cat([caches[r][layer][1], v[r : r + 1]], dim=2)
            new_caches[r].append((kr, vr))
            pad = L - kr.shape[2]
            ks.append(F.pad(kr, (0, 0, 0, pad)))
            vs.append(F.pad(vr, (0, 0, 0, pad)))
        y = F.scaled_dot_product_attention(q, torch.cat(ks), torch.cat(vs), attn_mask=mask)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))[:, 0], new_caches


def serve(model, requests, budget):
    waiting = deque(requests)
    running = []
    outputs = {r.id: [] for r in requests}
    caches = {}
    reserved = 0
    trace = []
    need = lambda r: len(r.prompt) + r.max_new_tokens  # noqa: E731
    while waiting or running:
        decoding = list(running)
        admitted = []
        while waiting and reserved + need(waiting[0]) <= budget:
            r = waiting.popleft()
            reserved += need(r)
            admitted.append(r)
        if waiting and need(waiting[0]) > budget:
            raise ValueError("too big")
        if decoding:
            toks = torch.tensor([outputs[r.id][-1] for r in decoding])
            logits, new = decode_batch(model, toks, [caches[r.id] for r in decoding])
            for i, r in enumerate(decoding):
                outputs[r.id].append(int(logits[i].argmax()))
                caches[r.id] = new[i]
        for r in admitted:
            logits, cache = forward_cached(model, torch.tensor([r.prompt]), None)
            outputs[r.id].append(int(logits[0, -1].argmax()))
            caches[r.id] = cache
        running = decoding + admitted
        finished = [r for r in running if len(outputs[r.id]) == r.max_new_tokens]
        for r in finished:
            running.remove(r)
            del caches[r.id]
            reserved -= need(r)
        trace.append(
            {
                "admitted": [r.id for r in admitted],
                "decoded": [r.id for r in decoding],
                "finished": [r.id for r in finished],
            }
        )
    return outputs, trace
