"""Correct, written differently: one fused product on [x, h], nn.LSTMCell in the model's loop,
chunks from torch.split, a list state, zero_grad after the step, a count-weighted mean."""

from __future__ import annotations

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
    H = h.shape[-1]
    weight = torch.cat([weight_ih, weight_hh], dim=1)  # (4H, I + H)
    gates = torch.cat([x, h], dim=1) @ weight.T + (bias_ih + bias_hh)
    i = torch.sigmoid(gates[:, :H])
    f = torch.sigmoid(gates[:, H : 2 * H])
    g = torch.tanh(gates[:, 2 * H : 3 * H])
    o = torch.sigmoid(gates[:, 3 * H :])
    c_new = torch.addcmul(f * c, i, g)
    return o * c_new.tanh(), c_new


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 16) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.cell = nn.LSTMCell(embed_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        x = self.embed(tokens).transpose(0, 1)  # (T, B, E): loop over the first axis
        hs = []
        for x_t in x:
            state = self.cell(x_t, state)
            hs.append(state[0])
        return self.out(torch.stack(hs, dim=1)), (state[0], state[1])


def make_streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    usable = ids.numel() - ids.numel() % batch_size
    return ids.narrow(0, 0, usable).view(batch_size, -1)


def train_tbptt(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    streams: torch.Tensor,
    chunk_len: int,
    max_norm: float = 1.0,
) -> list[float]:
    optimizer.zero_grad()
    history = []
    state = None
    inputs = torch.split(streams[:, :-1], chunk_len, dim=1)
    targets = torch.split(streams[:, 1:], chunk_len, dim=1)
    for x, y in zip(inputs, targets, strict=True):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="mean")
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        state = [s.detach() for s in state]
        history.append(loss.detach().item())
    return history


@torch.no_grad()
def perplexity(model: nn.Module, streams: torch.Tensor, chunk_len: int) -> float:
    state = None
    weighted, count = torch.zeros((), dtype=torch.float64), 0
    for x, y in zip(
        torch.split(streams[:, :-1], chunk_len, dim=1),
        torch.split(streams[:, 1:], chunk_len, dim=1),
        strict=True,
    ):
        logits, state = model(x, state)
        mean = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        weighted += mean.double() * y.numel()
        count += y.numel()
    return float(torch.exp(weighted / count))
