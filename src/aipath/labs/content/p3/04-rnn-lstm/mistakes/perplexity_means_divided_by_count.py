# expect: per-chunk mean losses added up and then divided by the number of targets
"""A known-wrong solution: perplexity adds each chunk's MEAN loss (reduction='sum' forgotten) and still divides by the target count."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


# ----- task 1 -----------------------------------------------------------------------------------
def lstm_cell(
    x: torch.Tensor,
    state: State,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> State:
    h, c = state
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = f * c + i * g
    h_next = o * torch.tanh(c_next)
    return h_next, c_next


# ----- task 2 -----------------------------------------------------------------------------------
class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 16) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size)
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = nn.Parameter(
            torch.empty(4 * hidden_size, embed_size).uniform_(-bound, bound)
        )
        self.weight_hh = nn.Parameter(
            torch.empty(4 * hidden_size, hidden_size).uniform_(-bound, bound)
        )
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size).uniform_(-bound, bound))
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        batch, steps = tokens.shape
        if state is None:
            zeros = torch.zeros(batch, self.hidden_size)
            state = (zeros, zeros)
        inputs = self.embedding(tokens)  # (B, T, E)
        outputs = []
        for t in range(steps):
            state = lstm_cell(
                inputs[:, t], state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
            )
            outputs.append(state[0])
        hidden = torch.stack(outputs, dim=1)  # (B, T, H)
        return self.head(hidden), state


# ----- task 3 -----------------------------------------------------------------------------------
def make_streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    length = len(ids) // batch_size
    return ids[: batch_size * length].reshape(batch_size, length)


def train_tbptt(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    streams: torch.Tensor,
    chunk_len: int,
    max_norm: float = 1.0,
) -> list[float]:
    state = None
    losses = []
    for start in range(0, streams.shape[1] - 1, chunk_len):
        inputs = streams[:, start : start + chunk_len]
        targets = streams[:, start + 1 : start + 1 + chunk_len]
        inputs = inputs[:, : targets.shape[1]]
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        state = tuple(s.detach() for s in state)
        losses.append(loss.item())
    return losses


# ----- task 4 -----------------------------------------------------------------------------------
@torch.no_grad()
def perplexity(model: nn.Module, streams: torch.Tensor, chunk_len: int) -> float:
    state = None
    total, count = 0.0, 0
    for start in range(0, streams.shape[1] - 1, chunk_len):
        inputs = streams[:, start : start + chunk_len]
        targets = streams[:, start + 1 : start + 1 + chunk_len]
        inputs = inputs[:, : targets.shape[1]]
        logits, state = model(inputs, state)
        total += F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        ).item()
        count += targets.numel()
    return math.exp(total / count)
