"""einsum attention with additive float mask, pad_sequence batch, token list generation."""

from __future__ import annotations

import time
from collections import deque

import torch
import torch.nn.functional as F
from tinygpt import generate_uncached
from torch.nn.utils.rnn import pad_sequence


def attend(q, k, v, cache):
    if cache is not None:
        past_k, past_v = cache
        keys = torch.cat([past_k, k], dim=-2)
        values = torch.cat([past_v, v], dim=-2)
    else:
        keys, values = k, v
    t, S = q.shape[-2], keys.shape[-2]
    T = S - t
    allowed = torch.arange(S).view(1, S) <= torch.arange(T, T + t).view(t, 1)
    bias = torch.zeros(t, S).masked_fill(~allowed, float("-inf"))
    scores = torch.einsum("bhid,bhjd->bhij", q, keys) * q.shape[-1] ** -0.5 + bias
    out = torch.einsum("bhij,bhjd->bhid", scores.softmax(dim=-1), values)
    return out, (keys, values)


@torch.no_grad()
def forward_cached(model, idx, cache):
    T = 0 if cache is None else cache[0][0].size(2)
    x = model.tok_emb(idx) + model.pos_emb(T + torch.arange(idx.size(1)))
    C = x.size(-1)
    caches = []
    for layer in range(len(model.blocks)):
        block = model.blocks[layer]
        qkv = block.qkv(block.ln1(x))
        q = model.split_heads(qkv[..., :C])
        k = model.split_heads(qkv[..., C : 2 * C])
        v = model.split_heads(qkv[..., 2 * C :])
        y, lc = attend(q, k, v, None if cache is None else cache[layer])
        caches.append(lc)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x)), caches


@torch.no_grad()
def generate_cached(model, idx, max_new_tokens):
    pieces = [idx]
    if max_new_tokens == 0:
        return idx.clone()
    logits, cache = forward_cached(model, idx, None)
    tok = logits[:, -1:].argmax(-1)
    pieces.append(tok)
    while len(pieces) - 1 < max_new_tokens:
        logits, cache = forward_cached(model, tok, cache)
        tok = logits[:, -1:].argmax(-1)
        pieces.append(tok)
    return torch.cat(pieces, dim=1)


def measure_speedup(model, idx, max_new_tokens, repeats=3):
    result = {}
    for key, fn in (("uncached_s", generate_uncached), ("cached_s", generate_cached)):
        fn(model, idx, max_new_tokens)
        runs = []
        for _ in range(repeats):
            a = time.perf_counter()
            fn(model, idx, max_new_tokens)
            b = time.perf_counter()
            runs.append(b - a)
        result[key] = min(runs)
    result["speedup"] = result["uncached_s"] / result["cached_s"]
    return result


@torch.no_grad()
def decode_batch(model, tokens, caches):
    R = tokens.numel()
    lens = torch.tensor([c[0][0].shape[2] for c in caches], dtype=torch.long)
    x = model.tok_emb(tokens).unsqueeze(1) + model.pos_emb(lens.unsqueeze(1))
    L = int(lens.max().item()) + 1
    mask = torch.arange(L).expand(R, L) <= lens.unsqueeze(1)
    mask = mask[:, None, None, :]
    new_caches = [list() for _ in range(R)]
    for layer, block in enumerate(model.blocks):
        q, k, v = block.qkv(block.ln1(x)).split(x.shape[-1], dim=-1)
        q, k, v = model.split_heads(q), model.split_heads(k), model.split_heads(v)
        kl, vl = [], []
        for r in range(R):
            pk, pv = caches[r][layer]
            kr = torch.cat([pk, k[r : r + 1]], dim=2)
            vr = torch.cat([pv, v[r : r + 1]], dim=2)
            new_caches[r].append((kr, vr))
            # (T_r+1, H, D) for pad_sequence
            kl.append(kr[0].permute(1, 0, 2))
            vl.append(vr[0].permute(1, 0, 2))
        K = pad_sequence(kl, batch_first=True).permute(0, 2, 1, 3)
        V = pad_sequence(vl, batch_first=True).permute(0, 2, 1, 3)
        y = F.scaled_dot_product_attention(q, K, V, attn_mask=mask)
        x = x + block.proj(model.merge_heads(y))
        x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))[:, -1, :], new_caches


class _Run:
    def __init__(self, req):
        self.req = req
        self.tokens: list[int] = []
        self.cache = None


def serve(model, requests, budget):
    for r in requests:
        if len(r.prompt) + r.max_new_tokens > budget:
            raise ValueError(r.id)
    waiting = deque(_Run(r) for r in requests)
    running: list[_Run] = []
    free = budget
    trace = []
    out = {}
    while waiting or running:
        new = []
        while waiting:
            need = len(waiting[0].req.prompt) + waiting[0].req.max_new_tokens
            if need > free:
                break
            free -= need
            new.append(waiting.popleft())
        old = running
        if old:
            logits, nc = decode_batch(
                model, torch.tensor([s.tokens[-1] for s in old]), [s.cache for s in old]
            )
            for s, row, c in zip(old, logits, nc, strict=True):
                s.tokens.append(int(row.argmax()))
                s.cache = c
        for s in new:
            lg, s.cache = forward_cached(model, torch.tensor(s.req.prompt)[None], None)
            s.tokens.append(int(lg[0, -1].argmax()))
        running = []
        done = []
        for s in old + new:
            if len(s.tokens) == s.req.max_new_tokens:
                done.append(s.req.id)
                out[s.req.id] = s.tokens
                free += len(s.req.prompt) + s.req.max_new_tokens
                s.cache = None
            else:
                running.append(s)
        trace.append(
            {
                "admitted": [s.req.id for s in new],
                "decoded": [s.req.id for s in old],
                "finished": done,
            }
        )
    return {r.id: out[r.id] for r in requests}, trace
