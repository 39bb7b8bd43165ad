"""Correct, written differently: four separate linear maps per gate, nn.LSTM in the model,
streams stacked from slices, the state detached at the start of each chunk, log_softmax + gather."""

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
    h, c = state
    size = h.shape[1]

    def block(k: int) -> torch.Tensor:
        rows = slice(k * size, (k + 1) * size)
        return F.linear(x, weight_ih[rows], bias_ih[rows]) + F.linear(
            h, weight_hh[rows], bias_hh[rows]
        )

    input_gate = torch.sigmoid(block(0))
    forget_gate = torch.sigmoid(block(1))
    candidate = torch.tanh(block(2))
    output_gate = torch.sigmoid(block(3))
    c_next = forget_gate * c + input_gate * candidate
    return output_gate * torch.tanh(c_next), c_next


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 16) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        if state is not None:
            state = (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous())
        out, (h, c) = self.lstm(self.embedding(tokens), state)
        return self.head(out), (h.squeeze(0), c.squeeze(0))


def make_streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    length = ids.shape[0] // batch_size
    return torch.stack([ids[b * length : (b + 1) * length] for b in range(batch_size)])


def train_tbptt(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    streams: torch.Tensor,
    chunk_len: int,
    max_norm: float = 1.0,
) -> list[float]:
    losses: list[float] = []
    state = None
    start = 0
    while start + 1 < streams.shape[1]:
        stop = min(start + chunk_len, streams.shape[1] - 1)
        if state is not None:
            state = (state[0].detach(), state[1].detach())  # values on, history off
        logits, state = model(streams[:, start:stop], state)
        targets = streams[:, start + 1 : stop + 1]
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        model.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()), max_norm=max_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        start = stop
    return losses


def perplexity(model: nn.Module, streams: torch.Tensor, chunk_len: int) -> float:
    nll = []
    state = None
    with torch.no_grad():
        for start in range(0, streams.shape[1] - 1, chunk_len):
            stop = min(start + chunk_len, streams.shape[1] - 1)
            logits, state = model(streams[:, start:stop], state)
            log_p = torch.log_softmax(logits, dim=-1)
            targets = streams[:, start + 1 : stop + 1]
            nll.append(-log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1).flatten())
    return math.exp(torch.cat(nll).double().mean().item())
