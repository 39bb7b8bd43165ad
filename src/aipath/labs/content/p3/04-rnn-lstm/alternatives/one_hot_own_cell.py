"""Correct, written differently: one-hot inputs (no embedding), the model's own cell with a
Xavier-initialised weight and a forget-gate bias of 1, a time-major loop over unbind."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


def lstm_cell(
    x: torch.Tensor,
    state: State,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> State:
    h_prev, c_prev = state
    z = torch.addmm(bias_ih, x, weight_ih.t()) + torch.addmm(bias_hh, h_prev, weight_hh.t())
    zi, zf, zg, zo = torch.split(z, h_prev.shape[1], dim=1)
    c = torch.sigmoid(zf) * c_prev + torch.sigmoid(zi) * torch.tanh(zg)
    h = torch.sigmoid(zo) * torch.tanh(c)
    return h, c


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 16) -> None:
        super().__init__()
        del embed_size  # one-hot inputs: the input size is the vocabulary size
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        H = hidden_size
        self.weight_ih = nn.Parameter(nn.init.xavier_uniform_(torch.empty(4 * H, vocab_size)))
        self.weight_hh = nn.Parameter(nn.init.orthogonal_(torch.empty(4 * H, H)))
        bias = torch.zeros(4 * H)
        bias[H : 2 * H] = 1.0  # remember by default at the start of training
        self.bias_ih = nn.Parameter(bias)
        self.bias_hh = nn.Parameter(torch.zeros(4 * H))
        self.head = nn.Linear(H, vocab_size)

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        B = tokens.shape[0]
        if state is None:
            state = (tokens.new_zeros(B, self.hidden_size, dtype=torch.float32),) * 2
        h, c = state
        outs = []
        for step in F.one_hot(tokens, self.vocab_size).float().unbind(dim=1):
            h, c = lstm_cell(
                step, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
            )
            outs.append(h)
        return self.head(torch.stack(outs, 1)), (h, c)


def make_streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    return ids[: len(ids) // batch_size * batch_size].unflatten(0, (batch_size, -1))


def train_tbptt(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    streams: torch.Tensor,
    chunk_len: int,
    max_norm: float = 1.0,
) -> list[float]:
    n_chunks = math.ceil((streams.shape[1] - 1) / chunk_len)
    state = None
    out = []
    for k in range(n_chunks):
        a, b = k * chunk_len, min((k + 1) * chunk_len, streams.shape[1] - 1)
        logits, state = model(streams[:, a:b], state)
        loss = F.nll_loss(
            F.log_softmax(logits, -1).reshape(-1, logits.shape[-1]),
            streams[:, a + 1 : b + 1].reshape(-1),
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        state = tuple(t.detach() for t in state)
        out.append(loss.item())
    return out


def perplexity(model: nn.Module, streams: torch.Tensor, chunk_len: int) -> float:
    total = 0.0
    count = 0
    state = None
    with torch.inference_mode():
        for a in range(0, streams.shape[1] - 1, chunk_len):
            b = min(a + chunk_len, streams.shape[1] - 1)
            logits, state = model(streams[:, a:b], state)
            total += F.cross_entropy(
                logits.transpose(1, 2), streams[:, a + 1 : b + 1], reduction="sum"
            ).item()
            count += (b - a) * streams.shape[0]
    return math.exp(total / count)
