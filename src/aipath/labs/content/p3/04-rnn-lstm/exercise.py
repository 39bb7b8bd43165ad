"""An LSTM from its equations, a character-level language model, truncated BPTT.

Read README.md first. Shapes: B = batch (number of streams), T = time steps in a chunk,
I = input size, H = hidden size, V = vocabulary size, E = embedding size, L = stream length.
"""

from __future__ import annotations

import math  # noqa: F401

import torch
import torch.nn.functional as F  # noqa: F401
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (B, H)

# What you will need, among others: torch.sigmoid, torch.tanh, Tensor.chunk, nn.Embedding,
# nn.Parameter, nn.Linear, torch.stack, F.cross_entropy, torch.nn.utils.clip_grad_norm_,
# Tensor.detach, torch.no_grad, math.exp.


# ----- task 1 -----------------------------------------------------------------------------------
def lstm_cell(
    x: torch.Tensor,
    state: State,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> State:
    """One LSTM step, with PyTorch's layout and gate order (i, f, g, o).

    Args:
        x: (B, I) the inputs of this step.
        state: (h, c), each (B, H): the hidden state and the cell state before this step.
        weight_ih: (4H, I), weight_hh: (4H, H), bias_ih: (4H,), bias_hh: (4H,) — the rows
            0..H-1 belong to the input gate i, H..2H-1 to the forget gate f, 2H..3H-1 to the
            cell candidate g, 3H..4H-1 to the output gate o.

    Returns:
        (h_next, c_next), each (B, H), equal to ``nn.LSTMCell`` with the same weights.

    >>> cell = nn.LSTMCell(5, 4)
    >>> x, h, c = torch.randn(3, 5), torch.zeros(3, 4), torch.zeros(3, 4)
    >>> h1, c1 = lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    >>> torch.allclose(h1, cell(x, (h, c))[0], atol=1e-6)
    True
    """
    # TODO: the gate pre-activations (B, 4H), split into i, f, g, o, then c and h (README, task 1)
    raise NotImplementedError


# ----- task 2 -----------------------------------------------------------------------------------
class CharLSTM(nn.Module):
    """Embedding → LSTM over time → linear head to one logit per character.

    >>> model = CharLSTM(vocab_size=11, hidden_size=8, embed_size=5)
    >>> logits, (h, c) = model(torch.randint(0, 11, (3, 7)))
    >>> tuple(logits.shape), tuple(h.shape), tuple(c.shape)
    ((3, 7, 11), (3, 8), (3, 8))
    """

    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 16) -> None:
        super().__init__()
        # TODO: self.hidden_size, an nn.Embedding(vocab_size, embed_size), the four LSTM tensors
        #       as nn.Parameter (weight_ih (4H, E), weight_hh (4H, H), bias_ih, bias_hh (4H,)),
        #       and an nn.Linear(hidden_size, vocab_size)
        raise NotImplementedError

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """tokens (B, T) int64, state (h, c) each (B, H) or None (zeros).

        Returns (logits (B, T, V), (h, c) after the last step).
        """
        # TODO: embed (B, T, E); loop t over T with lstm_cell; stack the h's (B, T, H); head
        raise NotImplementedError


# ----- task 3 -----------------------------------------------------------------------------------
def make_streams(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a 1-D tensor of ids into ``batch_size`` contiguous streams, one per row.

    Returns (B, L) with L = len(ids) // B; the few ids left over at the end are dropped.

    >>> make_streams(torch.arange(10), 3)
    tensor([[0, 1, 2],
            [3, 4, 5],
            [6, 7, 8]])
    """
    # TODO: keep the first B * L ids and reshape
    raise NotImplementedError


def train_tbptt(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    streams: torch.Tensor,
    chunk_len: int,
    max_norm: float = 1.0,
) -> list[float]:
    """One pass over ``streams`` (B, L) in chunks of ``chunk_len`` steps, one update per chunk.

    Chunk k takes inputs ``streams[:, k*T:(k+1)*T]`` and targets one column later,
    ``streams[:, k*T+1:(k+1)*T+1]``. The first chunk starts from ``state=None``; each next chunk
    starts from the state the previous one returned, detached. Returns the mean cross-entropy of
    each chunk, as floats.
    """
    # TODO: for each chunk: model(inputs, state); F.cross_entropy over (B*T, V) logits;
    #       zero_grad, backward, clip_grad_norm_(model.parameters(), max_norm), step;
    #       carry the state on, detached
    raise NotImplementedError


# ----- task 4 -----------------------------------------------------------------------------------
def perplexity(model: nn.Module, streams: torch.Tensor, chunk_len: int) -> float:
    """exp(mean cross-entropy per predicted character) over ``streams`` (B, L), in chunks.

    The state is carried from chunk to chunk (as in training) and nothing is trained.
    A model that gives every one of V characters the same probability scores exactly V.
    """
    # TODO: under torch.no_grad(): sum the losses (reduction="sum"), count the targets, exp
    raise NotImplementedError
