# expect: only a won position treated as finished
# intent: negamax treats only a win as terminal, so a full drawn board returns -inf (best never set)
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
        rows, cols, k = self.rows, self.cols, self.k
        for r in range(rows):
            for c in range(cols):
                p = state[r * cols + c]
                if p == 0:
                    continue
                for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    er, ec = r + (k - 1) * dr, c + (k - 1) * dc
                    if not (0 <= er < rows and 0 <= ec < cols):
                        continue
                    if all(state[(r + i * dr) * cols + c + i * dc] == p for i in range(k)):
                        return p
        return 0

    def legal_moves(self, state: State) -> list[int]:
        """The columns that are not full, in increasing order; [] once someone has won."""
        if self.winner(state) != 0:
            return []
        return [c for c in range(self.cols) if state[c] == 0]

    def play(self, state: State, move: int) -> State:
        """A new state (a tuple) with the player to move's piece dropped into column `move`.

        Raise ValueError for a column outside 0..cols-1 or one that is full.
        """
        if not isinstance(move, (int, np.integer)) or not 0 <= move < self.cols or state[move] != 0:
            raise ValueError(f"column {move} is not playable")
        cells = list(state)
        for r in range(self.rows - 1, -1, -1):
            if cells[r * self.cols + move] == 0:
                cells[r * self.cols + move] = self.to_move(state)
                return tuple(cells)
        raise ValueError("full column")


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
    if game.winner(state) != 0:
        return game.winner(state) * game.to_move(state), 1
    best, nodes = -math.inf, 1
    for m in game.legal_moves(state):
        v, n = negamax(game, game.play(state, m))
        nodes += n
        best = max(best, -v)
    return best, nodes


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
    if game.is_terminal(state):
        return game.winner(state) * game.to_move(state), 1
    moves = game.legal_moves(state) if order is None else order(game, state)
    best, nodes = -math.inf, 1
    for m in moves:
        v, n = alphabeta(game, game.play(state, m), -beta, -alpha, order)
        nodes += n
        best = max(best, -v)
        alpha = max(alpha, best)
        if alpha >= beta:
            break
    return best, nodes


def ordered_moves(game: Game, state: State) -> list[int]:
    """The legal moves reordered: moves that win at once, then moves after which the opponent
    cannot win at once, then the rest; each group in game.legal_moves order.

    >>> ordered_moves(TicTacToe(), (1, 0, -1, 0, -1, 0, 0, 0, 1))   # X must block at 6
    [6, 1, 3, 5, 7]
    """
    me = game.to_move(state)
    wins, safe, rest = [], [], []
    for m in game.legal_moves(state):
        child = game.play(state, m)
        if game.winner(child) == me:
            wins.append(m)
        elif any(game.winner(game.play(child, r)) == -me for r in game.legal_moves(child)):
            rest.append(m)
        else:
            safe.append(m)
    return wins + safe + rest


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
    if state in table:
        return table[state], 1
    if game.is_terminal(state):
        return game.winner(state) * game.to_move(state), 1
    alpha_given = alpha
    best, nodes = -math.inf, 1
    for m in game.legal_moves(state):
        v, n = alphabeta_tt(game, game.play(state, m), table, -beta, -alpha)
        nodes += n
        best = max(best, -v)
        alpha = max(alpha, best)
        if alpha >= beta:
            break
    if alpha_given < best < beta:
        table[state] = best
    return best, nodes


def best_move(game: Game, state: State, table: dict[State, float] | None = None) -> int:
    """A move of greatest value for the player to move: search each child with alphabeta_tt
    (full window, one table shared by all of them, a new one when table is None)."""
    if game.is_terminal(state):
        raise ValueError("game over")
    if table is None:
        table = {}
    best, best_v = None, -math.inf
    for m in game.legal_moves(state):
        v, _ = alphabeta_tt(game, game.play(state, m), table)
        if -v > best_v:
            best, best_v = m, -v
    return best


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
    if child_visits == 0:
        return math.inf
    return child_value / child_visits + c * math.sqrt(math.log(parent_visits) / child_visits)


def select_child(node: Node, c: float) -> Node:
    """The child with the greatest uct_score; ties go to the earliest child in node.children."""
    best, best_s = None, -math.inf
    for child in node.children.values():
        s = uct_score(child.value, child.visits, node.visits, c)
        if best is None or s > best_s:
            best, best_s = child, s
    return best


def expand(game: Game, node: Node) -> Node:
    """Take the first untried move off node.untried, add its child (new_node) to
    node.children and return that child."""
    move = node.untried.pop(0)
    child = new_node(game, game.play(node.state, move), node, move)
    node.children[move] = child
    return child


def rollout(game: Game, state: State, rng: np.random.Generator) -> int:
    """Play uniformly random moves, moves[rng.integers(len(moves))], until the game ends;
    return the winner (1, -1 or 0). A finished state returns its winner and draws nothing."""
    while not game.is_terminal(state):
        moves = game.legal_moves(state)
        state = game.play(state, moves[rng.integers(len(moves))])
    return game.winner(state)


def backpropagate(game: Game, node: Node | None, winner: int) -> None:
    """From `node` up to the root: one more visit, and the result added from the view of the
    player who moved into each node (+1 if that player won, -1 if they lost, 0 for a draw)."""
    while node is not None:
        node.visits += 1
        node.value += winner * (-game.to_move(node.state))
        node = node.parent


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
    root = new_node(game, state)
    for _ in range(n_simulations):
        node = root
        while not node.untried and node.children:
            node = select_child(node, c)
        if node.untried:
            node = expand(game, node)
        backpropagate(game, node, rollout(game, node.state, rng))
    return root


def mcts_move(
    game: Game,
    state: State,
    n_simulations: int,
    rng: np.random.Generator,
    c: float = math.sqrt(2),
) -> int:
    """The move of the most visited root child (ties: the earliest) after mcts(...)."""
    if game.is_terminal(state):
        raise ValueError("game over")
    root = mcts(game, state, n_simulations, rng, c)
    best = None
    for m, child in root.children.items():
        if best is None or child.visits > root.children[best].visits:
            best = m
    return best


# ----- task 4: learning from self-play ----------------------------------------------------------
def afterstate_value(game: Game, values: dict[State, float], state: State) -> float:
    """The value of `state` for the player who just moved into it: a finished game is +1 (that
    player won) or 0 (a draw); otherwise values[game.canonical(state)], 0.0 if never seen."""
    if game.winner(state) != 0:
        return 1.0
    if game.is_terminal(state):
        return 0.0
    return values.get(game.canonical(state), 0.0)


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
    moves = game.legal_moves(state)
    u = rng.random()
    if u < epsilon:
        return moves[rng.integers(len(moves))]
    vals = [afterstate_value(game, values, game.play(state, m)) for m in moves]
    top = max(vals)
    best = [m for m, v in zip(moves, vals, strict=True) if v == top]
    return best[rng.integers(len(best))]


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
    updated in place, or a new one)."""
    if values is None:
        values = {}
    for _ in range(n_games):
        state = game.initial_state()
        while not game.is_terminal(state):
            state = game.play(state, choose_move(game, state, values, epsilon, rng))
            if not game.is_terminal(state):
                target = -max(
                    afterstate_value(game, values, game.play(state, r))
                    for r in game.legal_moves(state)
                )
                key = game.canonical(state)
                old = values.get(key, 0.0)
                values[key] = old + alpha * (target - old)
    return values


# ----- task 5: evaluation -----------------------------------------------------------------------
Agent = Callable[[Game, State, np.random.Generator], int]


def random_agent(game: Game, state: State, rng: np.random.Generator) -> int:
    """A uniformly random legal move: moves[rng.integers(len(moves))]."""
    moves = game.legal_moves(state)
    return moves[rng.integers(len(moves))]


def play_game(game: Game, x_agent: Agent, o_agent: Agent, rng: np.random.Generator) -> int:
    """Play one game from the initial state, asking x_agent for X's moves and o_agent for O's
    (each called as agent(game, state, rng)); return the winner (1, -1 or 0)."""
    state = game.initial_state()
    while not game.is_terminal(state):
        agent = x_agent if game.to_move(state) == CROSS else o_agent
        state = game.play(state, agent(game, state, rng))
    return game.winner(state)


def play_match(
    game: Game, agent_a: Agent, agent_b: Agent, n_games: int, rng: np.random.Generator
) -> tuple[int, int, int]:
    """(wins, draws, losses) of agent_a over n_games; agent_a plays X in games 0, 2, 4, … and O
    in games 1, 3, 5, …; one rng for the whole match."""
    w = d = lo = 0
    for i in range(n_games):
        if i % 2 == 0:
            r = play_game(game, agent_a, agent_b, rng)
        else:
            r = -play_game(game, agent_b, agent_a, rng)
        if r > 0:
            w += 1
        elif r < 0:
            lo += 1
        else:
            d += 1
    return w, d, lo


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
    if score >= 1:
        return math.inf
    if score <= 0:
        return -math.inf
    return 400 * math.log10(score / (1 - score))


def summarize(wins: int, draws: int, losses: int, z: float = 1.96) -> Summary:
    """The score, its band score ± z · sqrt(var / n) with var the variance (divided by n) of the
    per-game scores 1, 1/2, 0, clipped to [0, 1], and the Elo differences of all three.
    Raise ValueError when there are no games."""
    n = wins + draws + losses
    if n <= 0:
        raise ValueError("no games")
    score = (wins + draws / 2) / n
    var = max((wins + draws / 4) / n - score * score, 0.0)
    half = z * math.sqrt(var / n)
    low, high = max(0.0, score - half), min(1.0, score + half)
    return Summary(
        score, low, high, elo_difference(score), elo_difference(low), elo_difference(high)
    )
