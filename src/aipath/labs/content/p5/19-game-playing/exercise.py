"""p5-game-playing: board games, exact search, Monte-Carlo tree search, self-play and matches.

Edit this file, then run `aipath check p5-game-playing`. The README states each contract.
Everything your functions need from a game comes through the `game` argument (the API of
TicTacToe below): the checks hand them their own copies of the games, so a slip in task 1 does
not spoil tasks 2 to 5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

# A state is an immutable, hashable tuple of cells, row by row: 1 = X (moves first), -1 = O,
# 0 = empty. Whose turn it is follows from the cells: X when both have played equally often.
State = tuple[int, ...]
CROSS, NOUGHT = 1, -1  # X and O


# ----- the games (TicTacToe is given whole; ConnectK's rules are task 1) ------------------------
class TicTacToe:
    """Noughts and crosses on 3×3 cells numbered 0..8 row by row; a move is a cell."""

    rows, cols, k = 3, 3, 3
    LINES = (
        (0, 1, 2), (3, 4, 5), (6, 7, 8),
        (0, 3, 6), (1, 4, 7), (2, 5, 8),
        (0, 4, 8), (2, 4, 6),
    )  # fmt: skip
    # the 8 rotations and reflections of the board, as cell permutations
    SYMMETRIES = (
        (0, 1, 2, 3, 4, 5, 6, 7, 8), (6, 3, 0, 7, 4, 1, 8, 5, 2),
        (8, 7, 6, 5, 4, 3, 2, 1, 0), (2, 5, 8, 1, 4, 7, 0, 3, 6),
        (2, 1, 0, 5, 4, 3, 8, 7, 6), (0, 3, 6, 1, 4, 7, 2, 5, 8),
        (6, 7, 8, 3, 4, 5, 0, 1, 2), (8, 5, 2, 7, 4, 1, 6, 3, 0),
    )  # fmt: skip

    def initial_state(self) -> State:
        return (0,) * 9

    def to_move(self, state: State) -> int:
        """The player whose turn it is: X (1) or O (-1)."""
        return CROSS if sum(state) == 0 else NOUGHT

    def winner(self, state: State) -> int:
        """X or O if that player has three in a row, else 0 (game on, or a draw)."""
        for a, b, c in self.LINES:
            if state[a] != 0 and state[a] == state[b] == state[c]:
                return state[a]
        return 0

    def legal_moves(self, state: State) -> list[int]:
        """The empty cells in increasing order; none once someone has won."""
        if self.winner(state) != 0:
            return []
        return [i for i, cell in enumerate(state) if cell == 0]

    def play(self, state: State, move: int) -> State:
        """A new state with the player to move in `move` (state itself cannot change)."""
        if not 0 <= move < 9 or state[move] != 0:
            raise ValueError(f"cell {move} is not an empty cell of the board")
        cells = list(state)
        cells[move] = self.to_move(state)
        return tuple(cells)

    def is_terminal(self, state: State) -> bool:
        """A win or a full board: no legal move left."""
        return not self.legal_moves(state)

    def canonical(self, state: State) -> State:
        """One representative of the 8 symmetric versions of `state` (task 4's table key)."""
        return max(tuple(state[i] for i in perm) for perm in self.SYMMETRIES)


class ConnectK:
    """Gravity connect-k on a rows × cols board: a move is a column, and the piece falls to the
    lowest empty cell of that column. Cell (r, c) is state[r * cols + c], row 0 at the TOP.

    >>> game = ConnectK(rows=4, cols=5, k=4)
    >>> s = game.play(game.play(game.initial_state(), 2), 2)   # X then O, both in column 2
    >>> s[3 * 5 + 2], s[2 * 5 + 2]                             # X at the bottom, O on top of it
    (1, -1)
    """

    def __init__(self, rows: int = 4, cols: int = 5, k: int = 4) -> None:
        self.rows, self.cols, self.k = rows, cols, k

    def initial_state(self) -> State:
        return (0,) * (self.rows * self.cols)

    def to_move(self, state: State) -> int:
        return CROSS if sum(state) == 0 else NOUGHT

    def is_terminal(self, state: State) -> bool:
        return not self.legal_moves(state)

    def canonical(self, state: State) -> State:
        """The larger of `state` and its mirror image (each row reversed)."""
        c = self.cols
        mirror = tuple(state[r * c + c - 1 - j] for r in range(self.rows) for j in range(c))
        return max(state, mirror)

    # --- task 1 ---------------------------------------------------------------------------------
    def winner(self, state: State) -> int:
        """X or O if that player has k in a row — across, down, or on either diagonal — else 0.

        >>> game = ConnectK(3, 4, 3)
        >>> game.winner((0, 0, 0, 1,
        ...              0, 0, 1, -1,
        ...              0, 1, -1, -1))   # X on the rising diagonal
        1
        """
        raise NotImplementedError  # TODO

    def legal_moves(self, state: State) -> list[int]:
        """The columns that are not full, in increasing order; [] once someone has won."""
        raise NotImplementedError  # TODO

    def play(self, state: State, move: int) -> State:
        """A new state (a tuple) with the player to move's piece dropped into column `move`.

        Raise ValueError for a column outside 0..cols-1 or one that is full.
        """
        raise NotImplementedError  # TODO


Game = Any  # anything with initial_state, to_move, winner, legal_moves, play, is_terminal


def render(game: Game, state: State) -> str:
    """The board as text, row 0 first: X, O and '.' for empty. For your own printing."""
    marks = {1: "X", -1: "O", 0: "."}
    return "\n".join(
        " ".join(marks[state[r * game.cols + c]] for c in range(game.cols))
        for r in range(game.rows)
    )


# ----- task 2: exact search ---------------------------------------------------------------------
# Values are from the view of the player to move: +1 a win, 0 a draw, -1 a loss (perfect play).
# Each function returns (value, nodes): nodes counts the calls it made, this one included.
Order = Callable[[Game, State], Sequence[int]]


def negamax(game: Game, state: State) -> tuple[int, int]:
    """(value, nodes) of a full search: every position below `state` is visited.

    >>> negamax(TicTacToe(), (1, 1, 0, -1, -1, 0, 0, 0, 0))   # X to move wins at cell 2
    (1, 157)
    """
    raise NotImplementedError  # TODO


def alphabeta(
    game: Game,
    state: State,
    alpha: float = -math.inf,
    beta: float = math.inf,
    order: Order | None = None,
) -> tuple[float, int]:
    """Negamax with alpha-beta pruning; children in the order `order(game, state)` gives
    (game.legal_moves when order is None). Stop a node's loop as soon as alpha >= beta.

    A value strictly between alpha and beta is exact; one at or below alpha only says the true
    value is at most that, one at or above beta that it is at least that.

    >>> alphabeta(TicTacToe(), (1, 1, 0, -1, -1, 0, 0, 0, 0))
    (1, 36)
    """
    raise NotImplementedError  # TODO


def ordered_moves(game: Game, state: State) -> list[int]:
    """The legal moves reordered: moves that win at once, then moves after which the opponent
    cannot win at once, then the rest; each group in game.legal_moves order.

    >>> ordered_moves(TicTacToe(), (1, 0, -1, 0, -1, 0, 0, 0, 1))   # X must block at 6
    [6, 1, 3, 5, 7]
    """
    raise NotImplementedError  # TODO


def alphabeta_tt(
    game: Game,
    state: State,
    table: dict[State, float],
    alpha: float = -math.inf,
    beta: float = math.inf,
) -> tuple[float, int]:
    """alphabeta (legal_moves order) with a transposition table: table[state] is the exact
    value of a position already solved. A state found in the table returns that value at once
    (one node); store a value only when it is exact: strictly between the alpha and beta this
    call was given.
    """
    raise NotImplementedError  # TODO


def best_move(game: Game, state: State, table: dict[State, float] | None = None) -> int:
    """A move of greatest value for the player to move: search each child with alphabeta_tt
    (full window, one table shared by all of them, a new one when table is None)."""
    raise NotImplementedError  # TODO


# ----- task 3: Monte-Carlo tree search ----------------------------------------------------------
@dataclass(eq=False)
class Node:
    """One position in the search tree. `value` sums the simulation results (+1 win, 0 draw,
    -1 loss) from the view of the player who made `move`: the player to move at the parent."""

    state: State
    parent: Node | None = None
    move: int | None = None
    children: dict[int, Node] = field(default_factory=dict)  # move -> child, in expansion order
    untried: list[int] = field(default_factory=list)  # legal moves not expanded yet, in order
    visits: int = 0
    value: float = 0.0


def new_node(game: Game, state: State, parent: Node | None = None, move: int | None = None) -> Node:
    return Node(state, parent, move, untried=list(game.legal_moves(state)))


def uct_score(child_value: float, child_visits: int, parent_visits: int, c: float) -> float:
    """UCB1 for trees: the child's mean value plus c · sqrt(ln(parent_visits) / child_visits);
    +inf for a child never visited.

    >>> round(uct_score(3.0, 4, 10, 1.0), 4)
    1.5087
    """
    raise NotImplementedError  # TODO


def select_child(node: Node, c: float) -> Node:
    """The child with the greatest uct_score; ties go to the earliest child in node.children."""
    raise NotImplementedError  # TODO


def expand(game: Game, node: Node) -> Node:
    """Take the first untried move off node.untried, add its child (new_node) to
    node.children and return that child."""
    raise NotImplementedError  # TODO


def rollout(game: Game, state: State, rng: np.random.Generator) -> int:
    """Play uniformly random moves, moves[rng.integers(len(moves))], until the game ends;
    return the winner (1, -1 or 0). A finished state returns its winner and draws nothing."""
    raise NotImplementedError  # TODO


def backpropagate(game: Game, node: Node | None, winner: int) -> None:
    """From `node` up to the root: one more visit, and the result added from the view of the
    player who moved into each node (+1 if that player won, -1 if they lost, 0 for a draw)."""
    raise NotImplementedError  # TODO


def mcts(
    game: Game,
    state: State,
    n_simulations: int,
    rng: np.random.Generator,
    c: float = math.sqrt(2),
) -> Node:
    """The root of a UCT search of n_simulations simulations from `state`: each one selects
    down through fully expanded nodes, expands one child (unless the node is terminal), rolls
    out from it and backs the winner up."""
    raise NotImplementedError  # TODO


def mcts_move(
    game: Game,
    state: State,
    n_simulations: int,
    rng: np.random.Generator,
    c: float = math.sqrt(2),
) -> int:
    """The move of the most visited root child (ties: the earliest) after mcts(...)."""
    raise NotImplementedError  # TODO


# ----- task 4: learning from self-play ----------------------------------------------------------
def afterstate_value(game: Game, values: dict[State, float], state: State) -> float:
    """The value of `state` for the player who just moved into it: a finished game is +1 (that
    player won) or 0 (a draw); otherwise values[game.canonical(state)], 0.0 if never seen."""
    raise NotImplementedError  # TODO


def choose_move(
    game: Game,
    state: State,
    values: dict[State, float],
    epsilon: float,
    rng: np.random.Generator,
) -> int:
    """ε-greedy over after-states. Draw u = rng.random(); if u < epsilon return
    moves[rng.integers(len(moves))]; else among the moves whose after-state value is greatest
    return best[rng.integers(len(best))]."""
    raise NotImplementedError  # TODO


def self_play_td(
    game: Game,
    n_games: int,
    rng: np.random.Generator,
    alpha: float = 0.5,
    epsilon: float = 0.2,
    values: dict[State, float] | None = None,
) -> dict[State, float]:
    """Learn after-state values by playing n_games against itself (both sides choose with
    choose_move from the same table). After each move into a state s that is not final:
    target = -max over the opponent's replies r of afterstate_value(play(s, r)), and
    values[canonical(s)] moves a fraction alpha towards it. Returns the table (the one given,
    updated in place, or a new dict starting from its values)."""
    raise NotImplementedError  # TODO


# ----- task 5: evaluation -----------------------------------------------------------------------
Agent = Callable[[Game, State, np.random.Generator], int]


def random_agent(game: Game, state: State, rng: np.random.Generator) -> int:
    """A uniformly random legal move: moves[rng.integers(len(moves))]."""
    raise NotImplementedError  # TODO


def play_game(game: Game, x_agent: Agent, o_agent: Agent, rng: np.random.Generator) -> int:
    """Play one game from the initial state, asking x_agent for X's moves and o_agent for O's
    (each called as agent(game, state, rng)); return the winner (1, -1 or 0)."""
    raise NotImplementedError  # TODO


def play_match(
    game: Game, agent_a: Agent, agent_b: Agent, n_games: int, rng: np.random.Generator
) -> tuple[int, int, int]:
    """(wins, draws, losses) of agent_a over n_games; agent_a plays X in games 0, 2, 4, … and O
    in games 1, 3, 5, …; one rng for the whole match."""
    raise NotImplementedError  # TODO


class Summary(NamedTuple):
    score: float  # (wins + draws / 2) / games
    low: float  # the confidence band of the score, clipped to [0, 1]
    high: float
    elo: float  # the rating difference that score implies; ±inf at a score of 1 or 0
    elo_low: float
    elo_high: float


def elo_difference(score: float) -> float:
    """400 · log10(score / (1 − score)); -inf at 0, +inf at 1.

    >>> round(elo_difference(0.75), 1)
    190.8
    """
    raise NotImplementedError  # TODO


def summarize(wins: int, draws: int, losses: int, z: float = 1.96) -> Summary:
    """The score, its band score ± z · sqrt(var / n) with var the variance (divided by n) of the
    per-game scores 1, 1/2, 0, clipped to [0, 1], and the Elo differences of all three.
    Raise ValueError when there are no games."""
    raise NotImplementedError  # TODO
