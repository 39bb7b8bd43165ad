"""Checks for p5-game-playing: Connect-k rules over every reachable position of a small board,
exact search (values against an exhaustive solver, node counts against the check's own search
under the same rules, so pruning is measured), UCT replayed draw by draw, after-state learning
from self-play replayed and then played against a random and a perfect opponent, and matches.

Tasks 2–5 hand the learner's functions the check's own games (memoised, so the learner's code is
not slowed down by them), never the learner's ConnectK: a slip in task 1 spoils nothing later.
Where a contract fixes every step (the child order, the cutoff test, the order of random draws),
the check replays it with its own implementation and compares exactly; a wrong answer is named by
the variant of that implementation it matches.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from aipath.checks import (
    LEARNER_ERRORS,
    assert_close,
    assert_returned,
    cached,
    call_learner,
    fail,
    fmt,
    matching_mistake,
    once_per_run,
    raised,
)

State = tuple[int, ...]
INF = math.inf


# ----- the check's own games --------------------------------------------------------------------
class RefGame:
    """Row-major boards, X = 1 moves first, O = -1; memoised (states are hashable)."""

    rows: int
    cols: int
    k: int
    lines: list[tuple[int, ...]]
    perms: list[tuple[int, ...]]

    def __init__(self) -> None:
        self._winner: dict[State, int] = {}
        self._moves: dict[State, tuple[int, ...]] = {}
        self._play: dict[tuple[State, int], State] = {}
        self._canon: dict[State, State] = {}

    def initial_state(self) -> State:
        return (0,) * (self.rows * self.cols)

    def to_move(self, state: State) -> int:
        return 1 if sum(state) == 0 else -1

    def winner(self, state: State) -> int:
        w = self._winner.get(state)
        if w is None:
            w = 0
            for line in self.lines:
                first = state[line[0]]
                if first != 0 and all(state[i] == first for i in line):
                    w = first
                    break
            self._winner[state] = w
        return w

    def _legal(self, state: State) -> tuple[int, ...]:
        raise NotImplementedError

    def legal_moves(self, state: State) -> list[int]:
        moves = self._moves.get(state)
        if moves is None:
            moves = () if self.winner(state) != 0 else self._legal(state)
            self._moves[state] = moves
        return list(moves)

    def is_terminal(self, state: State) -> bool:
        return not self.legal_moves(state)

    def _apply(self, state: State, move: int) -> State:
        raise NotImplementedError

    def play(self, state: State, move: int) -> State:
        key = (state, move)
        out = self._play.get(key)
        if out is None:
            out = self._apply(state, move)
            self._play[key] = out
        return out

    def canonical(self, state: State) -> State:
        out = self._canon.get(state)
        if out is None:
            out = max(tuple(state[i] for i in perm) for perm in self.perms)
            self._canon[state] = out
        return out


class RefTicTacToe(RefGame):
    rows, cols, k = 3, 3, 3

    def __init__(self) -> None:
        super().__init__()
        self.lines = all_lines(3, 3, 3)
        b = np.arange(9).reshape(3, 3)
        perms = []
        for turn in range(4):
            r = np.rot90(b, turn)
            perms += [tuple(r.flatten().tolist()), tuple(np.fliplr(r).flatten().tolist())]
        self.perms = perms
        self.LINES = tuple(self.lines)

    def _legal(self, state: State) -> tuple[int, ...]:
        return tuple(i for i, v in enumerate(state) if v == 0)

    def _apply(self, state: State, move: int) -> State:
        if not (isinstance(move, int | np.integer) and 0 <= move < 9) or state[move] != 0:
            fail(f"a move {fmt(move)} was played on a tic-tac-toe board where it is not legal")
        cells = list(state)
        cells[int(move)] = self.to_move(state)
        return tuple(cells)

    def __repr__(self) -> str:
        return "TicTacToe()"


class RefConnectK(RefGame):
    def __init__(self, rows: int = 4, cols: int = 5, k: int = 4) -> None:
        super().__init__()
        self.rows, self.cols, self.k = rows, cols, k
        self.lines = all_lines(rows, cols, k)
        self.perms = [
            tuple(range(rows * cols)),
            tuple(r * cols + cols - 1 - c for r in range(rows) for c in range(cols)),
        ]

    def _legal(self, state: State) -> tuple[int, ...]:
        return tuple(c for c in range(self.cols) if state[c] == 0)

    def _apply(self, state: State, move: int) -> State:
        if not (isinstance(move, int | np.integer) and 0 <= move < self.cols) or state[move]:
            fail(f"a move {fmt(move)} was played on a {self!r} board where it is not legal")
        cells = list(state)
        row = max(r for r in range(self.rows) if cells[r * self.cols + int(move)] == 0)
        cells[row * self.cols + int(move)] = self.to_move(state)
        return tuple(cells)

    def __repr__(self) -> str:
        return f"ConnectK({self.rows}, {self.cols}, {self.k})"


def all_lines(
    rows: int,
    cols: int,
    k: int,
    dirs: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (1, -1)),
    *,
    wrap: bool = False,
    short: bool = False,
) -> list[tuple[int, ...]]:
    """Every run of k cells in the directions `dirs`; `wrap` adds flat runs that run off the end
    of a row into the next one, `short` drops runs that touch the last row or column."""
    lines = []
    for r in range(rows):
        for c in range(cols):
            for dr, dc in dirs:
                end_r, end_c = r + (k - 1) * dr, c + (k - 1) * dc
                if not (0 <= end_r < rows and 0 <= end_c < cols):
                    continue
                if short and ((end_r == rows - 1 and dr > 0) or (end_c == cols - 1 and dc > 0)):
                    continue
                lines.append(tuple((r + i * dr) * cols + c + i * dc for i in range(k)))
    if wrap:  # flat runs first, as code that scans the tuple for runs would find them
        n = rows * cols
        flat = [tuple(range(i, i + k)) for i in range(n - k + 1)]
        lines = flat + [line for line in lines if line not in flat]
    return lines


TTT = RefTicTacToe()


def board(game: Any, state: Any) -> str:
    """A state as one line of rows, e.g. `X X . | O O . | . . .`."""
    marks = {1: "X", -1: "O", 0: "."}
    try:
        cells = [marks.get(int(v), "?") for v in state]
    except (TypeError, ValueError):
        return fmt(state)
    if len(cells) != game.rows * game.cols:
        return fmt(state)
    return " | ".join(
        " ".join(cells[r * game.cols : (r + 1) * game.cols]) for r in range(game.rows)
    )


def after(game: Any, *moves: int) -> State:
    state = game.initial_state()
    for m in moves:
        state = game.play(state, m)
    return state


def reachable(game: Any) -> list[State]:
    seen = {game.initial_state()}
    order = [game.initial_state()]
    i = 0
    while i < len(order):
        for m in game.legal_moves(order[i]):
            child = game.play(order[i], m)
            if child not in seen:
                seen.add(child)
                order.append(child)
        i += 1
    return order


@functools.cache
def exact_values(name: str) -> dict[State, int]:
    """The game-theoretic value (for the player to move) of every reachable position (the
    check's own reference: never handed to learner code, so it is not copied per call)."""
    game = TTT if name == "ttt" else RefConnectK(3, 4, 3)
    values: dict[State, int] = {}
    for state in reversed(reachable(game)):
        if game.is_terminal(state):
            values[state] = game.winner(state) * game.to_move(state)
        else:
            values[state] = max(-values[game.play(state, m)] for m in game.legal_moves(state))
    return values


def ttt_values() -> dict[State, int]:
    return exact_values("ttt")


# ----- task 1: the rules of Connect-k -----------------------------------------------------------
def winner_variant(rows: int, cols: int, k: int, kind: str) -> Callable[[State], int]:
    dirs = {
        "no_diagonals": ((0, 1), (1, 0)),
        "down_right_only": ((0, 1), (1, 0), (1, 1)),
        "rising_only": ((0, 1), (1, 0), (1, -1)),
    }.get(kind, ((0, 1), (1, 0), (1, 1), (1, -1)))
    lines = all_lines(
        rows, cols, 4 if kind == "k4" else k, dirs, wrap=kind == "wrap", short=kind == "short"
    )

    def winner(state: State) -> int:
        for line in lines:
            first = state[line[0]]
            if first != 0 and all(state[i] == first for i in line):
                return first
        return 0

    return winner


WINNER_VARIANTS = {
    "no_diagonals": "no diagonal lines (only across and down)",
    "down_right_only": "only one diagonal direction (down-right): the rising diagonal "
    "(down-left) is missing",
    "rising_only": "only one diagonal direction (down-left): the falling diagonal (down-right) "
    "is missing",
    "wrap": "runs that wrap from the end of one row into the next (a run across must stay in "
    "its row)",
    "k4": "k = 4 hard-coded (use self.k)",
    "short": "runs that touch the last row or column left out (an off-by-one in the range of "
    "start cells: range(n - k + 1), not range(n - k))",
}


def legal_variant(game: RefConnectK, kind: str) -> Callable[[State], list[int]]:
    def legal(state: State) -> list[int]:
        cols = range(game.cols)
        if kind == "after_win":
            return [c for c in cols if state[c] == 0]
        if game.winner(state) != 0:
            return []
        if kind == "all":
            return list(cols)
        if kind == "bottom":
            return [c for c in cols if state[(game.rows - 1) * game.cols + c] == 0]
        return game.legal_moves(state)

    return legal


LEGAL_VARIANTS = {
    "after_win": "moves listed after a win (legal_moves is [] once someone has won)",
    "all": "full columns listed as legal",
    "bottom": "a column counted as open when its bottom cell is empty (a column has room when "
    "its TOP cell, row 0, is empty)",
}


def play_variant(game: RefConnectK, kind: str) -> Callable[[State, int], State]:
    rows, cols = game.rows, game.cols

    def play(state: State, move: int) -> State:
        cells = list(state)
        player = game.to_move(state) if kind != "other" else -game.to_move(state)
        free = [r for r in range(rows) if cells[r * cols + move] == 0]
        row = min(free) if kind == "top" else max(free)
        index = row * cols + move if kind != "transposed" else move * rows + row
        if index >= len(cells):
            return state
        cells[index] = player
        return tuple(cells)

    return play


PLAY_VARIANTS = {
    "top": "the piece left at the top of the column (it falls to the lowest empty cell, the "
    "largest row index)",
    "other": "the wrong player's piece (X moves when both have played equally often: "
    "self.to_move(state))",
    "transposed": "cells indexed as c * rows + r (cell (r, c) is state[r * cols + c])",
}


def describe_winner_mismatch(game: RefConnectK, answers: list[tuple[State, Any]]) -> str:
    """The variant that gives the learner's answer on every position tried."""
    for kind, text in WINNER_VARIANTS.items():
        variant = winner_variant(game.rows, game.cols, game.k, kind)
        if all(variant(s) == got for s, got in answers):
            return f"winner looks like {text}. "
    return ""


def check_rules_on(learner_game: Any, game: RefConnectK, states: list[State], label: str) -> None:
    name = repr(game)
    answers = [
        (state, call_learner(f"{name}.winner(...)", learner_game.winner, state)) for state in states
    ]
    bad_winner = [(state, got) for state, got in answers if got != game.winner(state)]
    if bad_winner:
        state, got = bad_winner[0]
        fail(
            f"{describe_winner_mismatch(game, answers)}{name}.winner({board(game, state)}) "
            f"is {fmt(got)}; expected {game.winner(state)} ({len(bad_winner)} of the "
            f"{len(states)} positions of {label} differ; rows are separated by |, row 0 first)"
        )
    legal_answers: list[tuple[State, Any]] = []
    bad_legal: list[tuple[State, Any]] = []
    for state in states:
        got = call_learner(f"{name}.legal_moves(...)", learner_game.legal_moves, state)
        assert_returned(got, f"{name}.legal_moves(...)", what="the list of legal columns")
        try:
            got_list = [int(m) for m in got]
        except (TypeError, ValueError):
            fail(f"{name}.legal_moves(...) should be a list of column numbers; got {fmt(got)}")
        legal_answers.append((state, got_list))
        if got_list != game.legal_moves(state):
            bad_legal.append((state, got_list))
    if bad_legal:
        state, got = bad_legal[0]
        label_text = ""
        for kind, text in LEGAL_VARIANTS.items():
            variant = legal_variant(game, kind)
            if all(variant(s) == g for s, g in legal_answers):
                label_text = f"legal_moves looks like {text}. "
                break
        if not label_text and sorted(got) == game.legal_moves(state):
            label_text = "the right columns, in another order: list them in increasing order. "
        fail(
            f"{label_text}{name}.legal_moves({board(game, state)}) is {fmt(got)}; expected "
            f"{game.legal_moves(state)} ({len(bad_legal)} of the {len(states)} positions of "
            f"{label} differ)"
        )
    bad_play: list[tuple[State, int, Any]] = []
    for state in states:
        for move in game.legal_moves(state):
            got = call_learner(f"{name}.play(state, {move})", learner_game.play, state, move)
            assert_returned(got, f"{name}.play(state, {move})", what="the new state")
            if isinstance(got, list | np.ndarray):
                fail(
                    f"{name}.play(state, {move}) returned a {type(got).__name__}; states must "
                    "be tuples (hashable, immutable: the search in task 2 keys a dict on them): "
                    "return tuple(cells)"
                )
            if got != game.play(state, move):
                bad_play.append((state, move, got))
    if bad_play:
        state, move, got = bad_play[0]
        label_text = ""
        for kind, text in PLAY_VARIANTS.items():
            variant = play_variant(game, kind)
            if all(variant(s, m) == g for s, m, g in bad_play[:50]):
                label_text = f"play looks like {text}. "
                break
        fail(
            f"{label_text}{name}.play({board(game, state)}, {move}) is {board(game, got)}; "
            f"expected {board(game, game.play(state, move))} ({len(bad_play)} moves of "
            f"{label} differ)"
        )


def learner_connect(learner: Any, rows: int, cols: int, k: int) -> Any:
    return call_learner(f"ConnectK({rows}, {cols}, {k})", learner.ConnectK, rows, cols, k)


@pytest.mark.task(1)
def test_connect_rules_every_position(learner: Any) -> None:
    game = RefConnectK(3, 4, 3)
    states = reachable(game)
    check_rules_on(
        learner_connect(learner, 3, 4, 3),
        game,
        states,
        f"ConnectK(3, 4, 3) (all {len(states)} reachable)",
    )


@pytest.mark.task(1)
def test_connect_rules_random_games(learner: Any) -> None:
    rng = np.random.default_rng(11)
    for rows, cols, k, n_games in ((5, 4, 4, 150), (4, 5, 4, 150), (6, 7, 4, 60), (4, 6, 3, 80)):
        game = RefConnectK(rows, cols, k)
        states = []
        for _ in range(n_games):
            state = game.initial_state()
            states.append(state)
            while not game.is_terminal(state):
                moves = game.legal_moves(state)
                state = game.play(state, moves[rng.integers(len(moves))])
                states.append(state)
        check_rules_on(
            learner_connect(learner, rows, cols, k),
            game,
            states,
            f"{n_games} random games of ConnectK({rows}, {cols}, {k})",
        )


@pytest.mark.task(1)
def test_connect_illegal_moves_raise(learner: Any) -> None:
    game = RefConnectK(4, 5, 4)
    mine = learner_connect(learner, 4, 5, 4)
    full = after(game, 1, 1, 1, 1)  # column 1 is full
    for state, move, why in (
        (full, 1, "column 1 is full"),
        (full, 5, "there is no column 5 on a 5-column board"),
        (
            full,
            -1,
            "column -1 is not on the board (Python's state[-1] would quietly read the last cell)",
        ),
    ):
        error = raised(mine.play, state, move)
        if not isinstance(error, ValueError):
            got = "returned normally" if error is None else f"raised {type(error).__name__}"
            fail(
                f"ConnectK(4, 5, 4).play({board(game, state)}, {move}) {got}; expected a "
                f"ValueError: {why}"
            )


# ----- task 2: exact search ---------------------------------------------------------------------
@dataclass
class SearchRules:
    """The check's negamax / alpha-beta with the variants that name the usual slips."""

    prune: bool = True
    cutoff: str = ">="  # or ">"
    negate: bool = True
    terminal: str = "mover"  # "x": winner(state); "abs": +1 whenever someone won
    count: str = "all"  # "internal": leaves not counted; "no_root": the caller's node not counted
    window: str = "swap"  # "same": (alpha, beta) passed down; "noswap": (-alpha, -beta);
    # "full": (-inf, inf); "best": (-beta, -best), -alpha before the first child; "best_raw":
    # (-beta, -best) from the start
    finished: str = "terminal"  # "win": only a won position is finished (a full board is not)
    best_start: float = -INF
    order: Any = None
    order_root_only: bool = False
    table: dict[State, float] | None = None
    store: str = "exact"  # "all" (bounds as exact), "inclusive", "never", "negated", "canonical"
    hit_nodes: int = 1
    nodes: int = field(default=0)

    def value(self, game: Any, state: State, alpha: float, beta: float, depth: int = 0) -> float:
        self.nodes += 1
        key = game.canonical(state) if self.store == "canonical" else state
        if self.table is not None and key in self.table:
            self.nodes += self.hit_nodes - 1
            return self.table[key]
        if game.is_terminal(state) and (self.finished != "win" or game.winner(state) != 0):
            w = game.winner(state)
            if self.count == "internal":
                self.nodes -= 1
            if self.terminal == "x":
                return w
            if self.terminal == "abs":
                return abs(w)
            return w * game.to_move(state)
        use_order = self.order is not None and (depth == 0 or not self.order_root_only)
        moves = self.order(game, state) if use_order else game.legal_moves(state)
        alpha_in = alpha
        best = self.best_start
        for move in moves:
            if self.window == "same":
                lo, hi = alpha, beta
            elif self.window == "noswap":
                lo, hi = -alpha, -beta
            elif self.window == "full":
                lo, hi = -INF, INF
            elif self.window == "best":
                lo, hi = -beta, (-best if best > -INF else -alpha)
            elif self.window == "best_raw":
                lo, hi = -beta, -best
            else:
                lo, hi = -beta, -alpha
            v = self.value(game, game.play(state, move), lo, hi, depth + 1)
            best = max(best, -v if self.negate else v)
            if self.prune:
                alpha = max(alpha, best)
                if alpha > beta or (self.cutoff == ">=" and alpha >= beta):
                    break
        keep = (
            self.store == "all"
            or (self.store == "inclusive" and alpha_in <= best <= beta)
            or (self.store not in ("never", "inclusive") and alpha_in < best < beta)
        )
        if self.table is not None and keep:
            self.table[key] = -best if self.store == "negated" else best
        return best

    def run(self, game: Any, state: State, alpha: float = -INF, beta: float = INF) -> tuple:
        self.nodes = 0
        v = self.value(game, state, alpha, beta)
        if self.count == "no_root":
            self.nodes -= 1
        return v, self.nodes


def ref_order(game: Any, state: State) -> list[int]:
    wins, safe, rest = [], [], []
    for move in game.legal_moves(state):
        child = game.play(state, move)
        if game.winner(child) != 0:
            wins.append(move)
        elif any(game.winner(game.play(child, r)) != 0 for r in game.legal_moves(child)):
            rest.append(move)
        else:
            safe.append(move)
    return wins + safe + rest


SEARCH_SLIPS: dict[str, dict[str, Any]] = {
    # best_start before negate: on a lost position both give (0, nodes); a search without the
    # minus sign has failed earlier, on the won position the checks try first
    "best starting at 0 instead of -inf (a lost position then looks drawn)": {"best_start": 0},
    "the child's value used without the minus sign (in negamax a child's value is from the "
    "opponent's view: best = max(best, -value))": {"negate": False},
    "a finished game scored as winner(state), X's view (score it for the player to move: "
    "winner(state) * to_move(state))": {"terminal": "x"},
    "a won position scored +1 for the player to move (the player who just moved won, so the "
    "player to move has lost: -1)": {"terminal": "abs"},
    "only a won position treated as finished: a full board with no winner is finished too, a "
    "draw worth 0 (test game.is_terminal(state), not just the winner)": {"finished": "win"},
    "only a won position treated as finished (best left at its start, -1): a full board with "
    "no winner is finished too, a draw worth 0 (test game.is_terminal(state))": {
        "finished": "win",
        "best_start": -1,
    },
    "finished positions not counted as nodes (every call counts, a leaf too)": {
        "count": "internal"
    },
    "the root not counted (nodes counts every call, this one included)": {"count": "no_root"},
}
PRUNE_SLIPS: dict[str, dict[str, Any]] = {
    "a cutoff only when alpha > beta (stop as soon as alpha >= beta: a move as good as beta "
    "already settles it)": {"cutoff": ">"},
    "no pruning: alpha never raised to the best value found (alpha = max(alpha, best)), so "
    "nothing is cut": {"prune": False},
    "the window passed down unchanged (a child is searched with (-beta, -alpha))": {
        "window": "same"
    },
    "the window negated but not swapped (a child is searched with (-beta, -alpha), not "
    "(-alpha, -beta))": {"window": "noswap"},
    "children searched with the full window (-inf, inf): the window is not passed down (search "
    "each child with (-beta, -alpha))": {"window": "full"},
    "children searched with (-beta, -best) instead of (-beta, -alpha): alpha also holds the "
    "bound the caller gave, which can be above best": {"window": "best"},
    "children searched with (-beta, -best), +inf before the first child, instead of "
    "(-beta, -alpha): alpha also holds the bound the caller gave": {"window": "best_raw"},
}
ORDER_SLIPS: dict[str, dict[str, Any]] = {
    "order ignored: children in game.legal_moves order (use order(game, state) when it is given)": {
        "order": None
    },
    "order used at the root only (pass it down to every recursive call)": {"order_root_only": True},
}


def slip_table(
    game: Any, state: State, alpha: float, beta: float, base: dict[str, Any], slips: dict
) -> Callable[[], dict[str, tuple]]:
    def table() -> dict[str, tuple]:
        out = {}
        for text, change in slips.items():
            rules = SearchRules(**{**base, **change})
            if "table" in base:
                rules.table = {}
            out[text] = rules.run(game, state, alpha, beta)
        return out

    return table


def matching_labels(got: tuple, mistakes: Callable[[], dict[str, tuple]]) -> str | None:
    """Every slip whose (value, nodes) equals the answer's, so that two slips which give the
    same search here are both named rather than the first alone."""
    labels = [text for text, out in mistakes().items() if out == got]
    return ", or like ".join(labels) if labels else None


def as_search_result(got: Any, name: str) -> tuple[float, int]:
    assert_returned(got, name, what="(value, nodes)")
    if not (isinstance(got, tuple) and len(got) == 2):
        fail(f"{name} should return a tuple (value, nodes); got {fmt(got)}")
    value, nodes = got
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        fail(f"the value from {name} should be a number; got {fmt(value)}")
    if isinstance(nodes, bool) or not isinstance(nodes, int | np.integer):
        fail(f"the node count from {name} should be an int; got {fmt(nodes)}")
    return float(value), int(nodes)


def bound_ok(got: float, true: float, alpha: float, beta: float) -> bool:
    """Fail-hard or fail-soft: exact inside the window, a correct bound outside it."""
    if alpha < true < beta:
        return got == true
    if true <= alpha:
        return true <= got <= alpha
    return beta <= got <= true


def window_text(alpha: float, beta: float) -> str:
    return "" if (alpha, beta) == (-INF, INF) else f", alpha={fmt(alpha)}, beta={fmt(beta)}"


def check_search(
    name: str,
    got: Any,
    game: Any,
    state: State,
    alpha: float,
    beta: float,
    rules: dict[str, Any],
    slips: dict,
    true: float,
) -> None:
    value, nodes = as_search_result(got, name)
    want_value, want_nodes = SearchRules(**rules).run(game, state, alpha, beta)
    if "table" in rules:
        rules["table"] = {}
    mistakes = slip_table(game, state, alpha, beta, rules, slips)
    if not bound_ok(value, true, alpha, beta):
        label = matching_labels((value, nodes), mistakes)
        if label is None:
            label = matching_mistake(
                value, lambda: {k: v[0] for k, v in mistakes().items()}, exact=True
            )
        prefix = f"{name} looks like {label}. " if label else ""
        if alpha < true < beta:
            want = f"{fmt(true)}"
        elif true <= alpha:
            want = (
                f"a value from {fmt(true)} to alpha = {fmt(alpha)} (the true value, "
                f"{fmt(true)}, is at most alpha: any bound in between is accepted)"
            )
        else:
            want = (
                f"a value from beta = {fmt(beta)} to {fmt(true)} (the true value, {fmt(true)}, "
                "is at least beta: any bound in between is accepted)"
            )
        fail(
            f"{prefix}{name}: the value is {fmt(value)}; expected {want}. The position: "
            f"{board(game, state)}, {'X' if game.to_move(state) == 1 else 'O'} to move"
        )
    if nodes != want_nodes:
        label = matching_labels((value, nodes), mistakes)
        if label is None:
            label = matching_mistake(
                nodes, lambda: {k: v[1] for k, v in mistakes().items()}, exact=True
            )
        prefix = f"{name} looks like {label}. " if label else ""
        fail(
            f"{prefix}{name} visited {nodes} nodes; expected {want_nodes} (the value, "
            f"{fmt(value)}, is right). Count one node per call, this one included; "
            + (
                "search children in game.legal_moves order and stop a node's loop as soon "
                "as alpha >= beta"
                if rules.get("prune", True)
                else "visit every child"
            )
        )
    del want_value


def ttt_positions() -> list[tuple[State, str]]:
    return [
        (after(TTT, 4, 0), "X centre, O corner"),
        (after(TTT, 0, 4, 8), "X in two opposite corners, O centre"),
        (after(TTT, 0, 3, 1, 4), "X to move wins at cell 2"),
        (after(TTT, 0, 4, 1), "O to move must block at cell 2"),
        (after(TTT, 4, 1, 0, 8, 2), "O to move must block at cell 6"),
        (after(TTT, 0, 4, 8, 2, 6), "O to move has lost: X threatens cells 3 and 7"),
    ]


def finished_positions() -> list[State]:
    return [
        after(TTT, 0, 3, 1, 4, 2),  # X won
        after(TTT, 0, 3, 1, 4, 8, 5),  # O won
        after(TTT, 0, 4, 8, 1, 7, 6, 2, 5, 3),  # a full board, a draw
    ]


@pytest.mark.task(2)
def test_negamax(learner: Any) -> None:
    values = ttt_values()
    # a full board with no winner first: it is finished (a draw), though nobody has won
    draw = finished_positions()[2]
    name = f"negamax(TicTacToe(), {board(TTT, draw)})  [a full board, a draw]"
    got = call_learner(name, learner.negamax, TTT, draw)
    if as_search_result(got, name)[0] != 0:
        check_search(name, got, TTT, draw, -INF, INF, {"prune": False}, SEARCH_SLIPS, 0)
    for state, what in ttt_positions():
        name = f"negamax(TicTacToe(), {board(TTT, state)})  [{what}]"
        got = call_learner(name, learner.negamax, TTT, state)
        check_search(
            name, got, TTT, state, -INF, INF, {"prune": False}, SEARCH_SLIPS, values[state]
        )
    for state in finished_positions():
        name = f"negamax(TicTacToe(), {board(TTT, state)})"
        got = call_learner(name, learner.negamax, TTT, state)
        check_search(
            name, got, TTT, state, -INF, INF, {"prune": False}, SEARCH_SLIPS, values[state]
        )
    game = RefConnectK(3, 4, 3)
    state = after(game, 0, 3)
    name = f"negamax(ConnectK(3, 4, 3), {board(game, state)})"
    got = call_learner(name, learner.negamax, game, state)
    check_search(
        name, got, game, state, -INF, INF, {"prune": False}, SEARCH_SLIPS,
        exact_values("connect")[state],
    )  # fmt: skip


ALPHABETA_CASES = [
    # position, window; a finite window first: with (-inf, inf) at the root, a window passed
    # down unchanged never gets a finite beta and cuts nothing, just like no pruning at all
    ((0, 4, 8), (-1, 1)),
    ((4, 0), (-INF, INF)),
    ((0, 4, 8), (-INF, INF)),
    ((0, 3, 1, 4), (-INF, INF)),
    ((4, 1, 0, 8, 2), (-INF, INF)),
    ((4,), (-1, 1)),
    ((0, 4, 8), (-1, 1)),
    ((4, 0), (0, 1)),
    ((0, 4, 1), (-1, 0)),
    ((0, 4, 1), (0.5, 1)),
    ((4, 1), (-0.5, 0.5)),
]


@pytest.mark.task(2)
def test_alphabeta(learner: Any) -> None:
    values = ttt_values()
    for state in finished_positions()[:2]:
        name = f"alphabeta(TicTacToe(), {board(TTT, state)})"
        got = call_learner(name, learner.alphabeta, TTT, state)
        check_search(name, got, TTT, state, -INF, INF, {}, SEARCH_SLIPS, values[state])
    slips = {**SEARCH_SLIPS, **PRUNE_SLIPS}
    for moves, (alpha, beta) in ALPHABETA_CASES:
        state = after(TTT, *moves)
        name = f"alphabeta(TicTacToe(), {board(TTT, state)}{window_text(alpha, beta)})"
        if (alpha, beta) == (-INF, INF):
            got = call_learner(name, learner.alphabeta, TTT, state)
        else:
            got = call_learner(name, learner.alphabeta, TTT, state, alpha, beta)
        check_search(name, got, TTT, state, alpha, beta, {}, slips, values[state])
    game = RefConnectK(3, 4, 3)
    for moves, (alpha, beta) in (((), (-1, 1)), ((1,), (-INF, INF))):
        state = after(game, *moves)
        name = f"alphabeta(ConnectK(3, 4, 3), {board(game, state)}{window_text(alpha, beta)})"
        got = call_learner(name, learner.alphabeta, game, state, alpha, beta)
        check_search(name, got, game, state, alpha, beta, {}, slips, exact_values("connect")[state])


@pytest.mark.task(2)
def test_alphabeta_prunes(learner: Any) -> None:
    """The measured effect: the same value as negamax with far fewer nodes."""
    state = after(TTT, 4)
    full_value, full_nodes = SearchRules(prune=False).run(TTT, state)
    name = f"alphabeta(TicTacToe(), {board(TTT, state)}, alpha=-1, beta=1)"
    value, nodes = as_search_result(call_learner(name, learner.alphabeta, TTT, state, -1, 1), name)
    want_value, want_nodes = SearchRules().run(TTT, state, -1, 1)
    if nodes >= full_nodes:
        fail(
            f"{name} visited {nodes} nodes, as many as the full negamax search ({full_nodes}): "
            "nothing was pruned (raise alpha to the best value so far and stop when "
            f"alpha >= beta; the reference visits {want_nodes})"
        )
    if value != full_value or nodes != want_nodes:
        fail(f"{name} is ({fmt(value)}, {nodes}); expected ({want_value}, {want_nodes})")


@pytest.mark.task(2)
def test_alphabeta_with_order(learner: Any) -> None:
    values = ttt_values()
    slips = {**SEARCH_SLIPS, **PRUNE_SLIPS, **ORDER_SLIPS}
    cases = (
        ((0, 4, 8, 2), (-INF, INF)),
        ((4,), (-1, 1)),
        ((0, 4, 8), (-INF, INF)),
        ((1,), (-1, 1)),
    )
    for moves, (alpha, beta) in cases:
        state = after(TTT, *moves)
        name = (
            f"alphabeta(TicTacToe(), {board(TTT, state)}{window_text(alpha, beta)}, "
            "order=<the check's ordered_moves>)"
        )
        got = call_learner(name, learner.alphabeta, TTT, state, alpha, beta, ref_order)
        check_search(name, got, TTT, state, alpha, beta, {"order": ref_order}, slips, values[state])
    game = RefConnectK(3, 4, 3)
    state = game.initial_state()
    name = f"alphabeta(ConnectK(3, 4, 3), {board(game, state)}, -1, 1, order=...)"
    got = call_learner(name, learner.alphabeta, game, state, -1, 1, ref_order)
    check_search(
        name, got, game, state, -1, 1, {"order": ref_order}, slips, exact_values("connect")[state]
    )


def order_mistakes(game: Any, state: State) -> dict[str, Any]:
    wins, safe, rest = [], [], []
    for move in game.legal_moves(state):
        child = game.play(state, move)
        if game.winner(child) != 0:
            wins.append(move)
        elif any(game.winner(game.play(child, r)) != 0 for r in game.legal_moves(child)):
            rest.append(move)
        else:
            safe.append(move)
    threat_free = [m for m in game.legal_moves(state) if m not in rest]
    return {
        "the moves that let the opponent win at once put first, the safe ones last (safe "
        "moves come right after the winning ones)": wins + rest + safe,
        "winning moves first and the rest in legal order (then come the moves after which the "
        "opponent cannot win at once, then the others; look for the opponent's winning replies "
        "in the position after your move)": wins
        + [m for m in game.legal_moves(state) if m not in wins],
        "the moves that hand the opponent a win left out (keep every legal move: the ordering "
        "only changes the order)": wins + safe,
        "the winning moves left out of the front (moves that win at once come first)": safe
        + rest
        + wins,
        "winning moves counted among the safe ones, in legal order": threat_free + rest,
    }


@pytest.mark.task(2)
def test_ordered_moves(learner: Any) -> None:
    game_c = RefConnectK(4, 5, 4)
    cases = [
        (TTT, after(TTT, 0, 4), "X corner, O centre"),
        (TTT, after(TTT, 4, 0, 8, 2), "X must block at cell 1; X cannot win yet"),
        (TTT, after(TTT, 0, 4, 8, 2), "X must block at cell 6"),
        (TTT, after(TTT, 4, 0, 8, 2, 1), "O must block at cell 7"),
        (TTT, after(TTT, 0, 3, 1, 4), "X wins at cell 2; O threatens cell 5"),
        (TTT, after(TTT, 4, 1, 0, 8, 2), "O must block at cell 6"),
        (game_c, after(game_c, 0, 0, 1, 1, 2), "O must block column 3"),
        (game_c, after(game_c, 0, 0, 1, 1, 2, 2), "X wins in column 3"),
        (game_c, after(game_c, 2, 2, 1, 3), "nothing urgent"),
    ]
    for game, state, what in cases:
        name = f"ordered_moves({game!r}, {board(game, state)})  [{what}]"
        got = call_learner(name, learner.ordered_moves, game, state)
        assert_returned(got, name, what="the reordered list of moves")
        try:
            got_list = [int(m) for m in got]
        except (TypeError, ValueError):
            fail(f"{name} should be a list of moves; got {fmt(got)}")
        want = ref_order(game, state)
        if got_list != want:
            label = matching_mistake(got_list, order_mistakes(game, state), exact=True)
            prefix = f"{name} looks like {label}. " if label else ""
            fail(
                f"{prefix}{name} is {got_list}; expected {want}: first the moves that win at "
                "once, then those after which the opponent has no winning reply, then the "
                "others, each group in legal_moves order"
            )
    # the measured effect of ordering, with the learner's own ordering
    state = after(TTT, 4)
    plain = SearchRules().run(TTT, state, -1, 1)[1]
    ordered = SearchRules(order=learner.ordered_moves).run(TTT, state, -1, 1)[1]
    want = SearchRules(order=ref_order).run(TTT, state, -1, 1)[1]
    if ordered != want:
        fail(
            f"alpha-beta with your ordered_moves visits {ordered} nodes from {board(TTT, state)} "
            f"(window (-1, 1)); with the reference ordering {want}, with none {plain}"
        )


TT_SLIPS: dict[str, dict[str, Any]] = {
    "bounds stored as exact values: a result at or outside the window (alpha, beta) the call "
    "was given is only a bound; store it only when alpha < value < beta": {"store": "all"},
    "a value equal to alpha or beta stored (at the edge of the window a value is still only a "
    "bound: store it only when alpha < value < beta, strictly)": {"store": "inclusive"},
    "nothing stored in the table (is the test comparing with the alpha raised inside the loop? "
    "compare with the alpha the call was given)": {"store": "never"},
    "the value stored from the opponent's view (store best, the value for the player to move "
    "at this state)": {"store": "negated"},
    "the table keyed by game.canonical(state) (the README asks for the state itself as the "
    "key, so the node counts can be compared)": {"store": "canonical"},
    "a table hit not counted as a node (a call that finds its state in the table still "
    "counts one)": {"hit_nodes": 0},
}


STORE_SLIPS = {text: change for text, change in TT_SLIPS.items() if "store" in change}


def check_table_exact(
    table: Any,
    name: str,
    values: dict[State, int],
    game: Any,
    tables: Callable[[], dict[str, dict[State, float]]] | None = None,
) -> None:
    """Every entry exact; `tables` gives the table each storing slip would have left."""
    if not isinstance(table, dict):
        fail(f"the table given to {name} is no longer a dict")
    for key, stored in table.items():
        if key not in values:
            fail(
                f"after {name} the table holds a key {fmt(key)} that is not a reachable "
                "position: key the table on the state itself"
            )
        if stored != values[key]:
            label = matching_mistake(table, tables, exact=True) if tables else None
            prefix = f"the table looks like {label}. " if label else ""
            fail(
                f"{prefix}after {name} table[{board(game, key)}] holds {fmt(stored)}, but the exact value "
                f"of that position ({'X' if game.to_move(key) == 1 else 'O'} to move) is "
                f"{values[key]}: a value found at or outside the window (alpha, beta) is only a "
                "bound and must not be stored as if it were exact (store only when "
                "alpha < value < beta, with the alpha the call was given)"
            )


@pytest.mark.task(2)
def test_alphabeta_tt(learner: Any) -> None:
    values = ttt_values()
    slips = {**SEARCH_SLIPS, **PRUNE_SLIPS, **TT_SLIPS}
    # a narrow window first: with (-inf, inf) at the root, children searched with the full
    # window visit exactly what a search without pruning visits
    for moves, (alpha, beta) in (((4,), (-1, 1)), ((), (-INF, INF)), ((0, 4, 8), (-INF, INF))):
        state = after(TTT, *moves)
        table: dict[State, float] = {}
        name = f"alphabeta_tt(TicTacToe(), {board(TTT, state)}, {{}}{window_text(alpha, beta)})"
        got = call_learner(name, learner.alphabeta_tt, TTT, state, table, alpha, beta)

        def slip_tables(state: State = state, alpha: float = alpha, beta: float = beta) -> dict:
            out = {}
            for text, change in STORE_SLIPS.items():
                rules = SearchRules(**change, table={})
                rules.run(TTT, state, alpha, beta)
                out[text] = rules.table
            return out

        check_table_exact(table, name, values, TTT, slip_tables)
        check_search(name, got, TTT, state, alpha, beta, {"table": {}}, slips, values[state])
        if not table:
            fail(f"{name} left the table empty: store every exact value you find")
    # one table through narrow windows: bounds stored as values show up here
    table = {}
    for moves, (alpha, beta) in (((4,), (0, 1)), ((4,), (-1, 0)), ((0,), (0, 0.5)), ((), (-1, 1))):
        state = after(TTT, *moves)
        name = (
            f"alphabeta_tt(TicTacToe(), {board(TTT, state)}, table{window_text(alpha, beta)}) "
            "with the table of the calls before"
        )
        got = call_learner(name, learner.alphabeta_tt, TTT, state, table, alpha, beta)
        check_table_exact(table, name, values, TTT)
        value, _nodes = as_search_result(got, name)
        if not bound_ok(value, values[state], alpha, beta):
            fail(f"{name}: the value is {fmt(value)}; the position's value is {values[state]}")
    name = "alphabeta_tt(TicTacToe(), empty board, table)"
    got = call_learner(name, learner.alphabeta_tt, TTT, TTT.initial_state(), table)
    check_table_exact(table, name, values, TTT)
    # node savings of the table, measured
    state = TTT.initial_state()
    plain = SearchRules().run(TTT, state)[1]
    got = call_learner(
        "alphabeta_tt(TicTacToe(), empty board, {})", learner.alphabeta_tt, TTT, state, {}
    )
    value, nodes = as_search_result(got, "alphabeta_tt(TicTacToe(), empty board, {})")
    if nodes >= plain:
        fail(
            f"alphabeta_tt from the empty board visited {nodes} nodes, no fewer than plain "
            f"alphabeta ({plain}): positions reached by other move orders should come from the "
            "table"
        )


@pytest.mark.task(2)
def test_best_move(learner: Any) -> None:
    values = ttt_values()
    rng = np.random.default_rng(5)
    states = [s for s in values if not TTT.is_terminal(s)]
    picks = [states[i] for i in rng.choice(len(states), 60, replace=False)]
    picks += [after(TTT, 0, 3, 1, 4), after(TTT, 0, 4, 1), after(TTT, 4, 0, 8)]
    table: dict[State, float] = {}
    for state in picks:
        name = f"best_move(TicTacToe(), {board(TTT, state)}, table)"
        got = call_learner(name, learner.best_move, TTT, state, table)
        assert_returned(got, name, what="a move")
        if isinstance(got, tuple):
            fail(f"{name} returned {fmt(got)}; expected just the move (an int)")
        if got not in TTT.legal_moves(state):
            fail(f"{name} is {fmt(got)}, not a legal move here ({TTT.legal_moves(state)})")
        score = {m: -values[TTT.play(state, m)] for m in TTT.legal_moves(state)}
        if score[got] != values[state]:
            worst = min(score.values())
            clue = (
                " It is the move that is best for the opponent: a child's value is from the "
                "opponent's view, so maximise -value."
                if score[got] == worst and worst < values[state]
                else ""
            )
            fail(
                f"{name} is {got}, a move worth {score[got]} for the player to move; the "
                f"best moves ({[m for m in score if score[m] == values[state]]}) are worth "
                f"{values[state]}.{clue}"
            )
    if not table:
        fail(
            "best_move(game, state, table) left the table it was given empty: share it with "
            "alphabeta_tt for every child"
        )
    check_table_exact(table, "best_move(..., table)", values, TTT)
    error = raised(learner.best_move, TTT, after(TTT, 0, 3, 1, 4, 2))
    if not isinstance(error, ValueError):
        got = "returned normally" if error is None else f"raised {type(error).__name__}"
        fail(f"best_move on a finished game {got}; expected a ValueError (there is no move)")


# ----- task 3: Monte-Carlo tree search ----------------------------------------------------------
@dataclass(eq=False)
class CNode:
    """The check's own node, with the fields of the README's Node."""

    state: State
    parent: CNode | None = None
    move: int | None = None
    children: dict[int, CNode] = field(default_factory=dict)
    untried: list[int] = field(default_factory=list)
    visits: int = 0
    value: float = 0.0


def c_node(game: Any, state: State, parent: CNode | None = None, move: int | None = None) -> CNode:
    return CNode(state, parent, move, untried=game.legal_moves(state))


def uct_variant(kind: str) -> Callable[[float, int, int, float], float]:
    def score(value: float, n: int, parent: int, c: float) -> float:
        if n == 0:
            return INF
        mean = value if kind == "sum" else value / n
        if kind == "swapped":
            return mean + c * math.sqrt(math.log(n) / parent)
        if kind == "no_sqrt":
            return mean + c * math.log(parent) / n
        if kind == "log10":
            return mean + c * math.sqrt(math.log10(parent) / n)
        if kind == "c_inside":
            return mean + math.sqrt(c * math.log(parent) / n)
        if kind == "no_log":
            return mean + c * math.sqrt(parent / n)
        if kind == "minus":
            return mean - c * math.sqrt(math.log(parent) / n)
        if kind == "exploit":
            return mean
        if kind == "log_plus_one":
            return mean + c * math.sqrt(math.log(parent + 1) / n)
        return mean + c * math.sqrt(math.log(parent) / n)

    return score


UCT_VARIANTS = {
    "swapped": "the parent's and the child's visits swapped (ln of the PARENT's visits over the "
    "child's)",
    "sum": "the value sum used where the mean belongs (divide the child's value by its visits)",
    "no_sqrt": "the square root missing from the exploration term",
    "log10": "log10 instead of the natural log",
    "c_inside": "c inside the square root (c · sqrt(ln N / n))",
    "no_log": "the log of the parent's visits missing (c · sqrt(N / n) instead of "
    "c · sqrt(ln N / n))",
    "minus": "the exploration bonus subtracted (UCB adds it: optimism under uncertainty)",
    "exploit": "the exploration term left out (mean value only)",
    "log_plus_one": "ln(parent_visits + 1) (UCB1 uses ln of the parent's visits itself)",
}


@pytest.mark.task(3)
def test_uct_score(learner: Any) -> None:
    cases = [(3.0, 4, 10, 1.0), (-2.0, 5, 37, math.sqrt(2)), (7.0, 9, 12, 0.5), (0.0, 1, 1, 2.0)]
    cases += [(4.5, 20, 400, 0.0), (-1.0, 3, 60, 1.7)]
    for value, n, parent, c in cases:
        name = f"uct_score({value}, {n}, {parent}, c={fmt(c)})"
        got = call_learner(
            name, learner.uct_score, value, n, parent, c, errors=(*LEARNER_ERRORS, ArithmeticError)
        )
        assert_returned(got, name, what="the score")
        assert_close(
            got,
            uct_variant("")(value, n, parent, c),
            name=name,
            rtol=1e-12,
            atol=1e-12,
            mistakes={
                text: uct_variant(kind)(value, n, parent, c) for kind, text in UCT_VARIANTS.items()
            },
        )
    name = "uct_score(0.0, 0, 10, 1.4)"
    got = call_learner(
        name,
        learner.uct_score,
        0.0,
        0,
        10,
        1.4,
        errors=(*LEARNER_ERRORS, ArithmeticError),
        hint="A child never visited has no mean yet: return math.inf before dividing.",
    )
    if got != INF:
        fail(f"{name} is {fmt(got)}; expected inf: a child never visited is tried first")


def handmade_node() -> CNode:
    """A root with 56 visits and five children, ranked differently by each slip at some c."""
    root = CNode(state=TTT.initial_state(), visits=56)
    stats = ((1.0, 5), (0.0, 4), (7.0, 23), (-1.0, 14), (0.0, 10))
    for move, (value, visits) in zip((0, 2, 4, 6, 8), stats, strict=True):
        root.children[move] = CNode(
            TTT.play(root.state, move), root, move, visits=visits, value=value
        )
    return root


def ref_select(node: Any, c: float, kind: str = "", first_tie: bool = True) -> int:
    best, best_score = None, -INF
    score = uct_variant(kind)
    for move, child in node.children.items():
        s = score(child.value, child.visits, node.visits, c)
        if best is None or s > best_score or (not first_tie and s >= best_score):
            best, best_score = move, s
    return best  # type: ignore[return-value]


def child_move(node: Any, got: Any, name: str) -> int:
    assert_returned(got, name, what="the chosen child Node")
    for move, child in node.children.items():
        if got is child:
            return move
    if isinstance(got, int):
        fail(f"{name} returned {got}, a move; expected the child Node itself (node.children[move])")
    fail(f"{name} returned {fmt(got)}, which is not one of node.children's values")


@pytest.mark.task(3)
def test_select_child(learner: Any) -> None:
    cs = (1.0, math.sqrt(2), 3.0, 0.3)
    picks = []
    for c in cs:
        node = handmade_node()
        name = f"select_child(node, c={fmt(c)})"
        picks.append(child_move(node, call_learner(name, learner.select_child, node, c), name))
        if node.visits != 56 or [ch.visits for ch in node.children.values()] != [5, 4, 23, 14, 10]:
            fail(f"{name} changed the node's visit counts: selection only reads them")
    want = [ref_select(handmade_node(), c) for c in cs]
    if picks != want:
        node = handmade_node()
        kinds = {**UCT_VARIANTS, "argmin": "the child with the LOWEST score (take the greatest)"}
        matches = []
        for kind, text in kinds.items():
            if kind == "argmin":
                alt = []
                for c in cs:
                    scores = {
                        m: uct_variant("")(ch.value, ch.visits, node.visits, c)
                        for m, ch in node.children.items()
                    }
                    alt.append(min(scores, key=lambda m, scores=scores: scores[m]))
            else:
                alt = [ref_select(node, c, kind) for c in cs]
            if alt == picks:
                matches.append(text)
        found = ""
        if len(matches) == 1:
            found = f"select_child looks like {matches[0]}. "
        elif matches:
            found = f"select_child looks like one of: {'; '.join(matches)}. "
        i = next(j for j in range(len(cs)) if picks[j] != want[j])
        stats = ", ".join(
            f"{m}: value {ch.value:g} over {ch.visits} visits" for m, ch in node.children.items()
        )
        fail(
            f"{found}select_child(node, c={fmt(cs[i])}) picked the child of move {picks[i]}; "
            f"expected move {want[i]} (parent visits {node.visits}; children {stats}). Score "
            "each child with uct_score(child.value, child.visits, node.visits, c)"
        )
    # ties and unvisited children
    node = handmade_node()
    for move in (2, 6):
        node.children[move].value, node.children[move].visits = 0.0, 0
    name = "select_child(node with unvisited children of moves 2 and 6, c=1.4)"
    got = child_move(
        node,
        call_learner(
            name,
            learner.select_child,
            node,
            1.4,
            errors=(*LEARNER_ERRORS, ArithmeticError),
            hint="A child never visited scores +inf: do not divide by its 0 visits.",
        ),
        name,
    )
    if got != 2:
        fail(
            f"{name} picked move {got}; expected 2, the earliest child never visited (its score "
            "is +inf; ties go to the earliest child in node.children: compare with >, not >=)"
        )
    node = handmade_node()
    for child in node.children.values():
        child.value, child.visits = 2.0, 6
    name = "select_child(node whose five children all have value 2 over 6 visits, c=1.4)"
    got = child_move(node, call_learner(name, learner.select_child, node, 1.4), name)
    if got != 0:
        fail(
            f"{name} picked move {got}; expected 0: on equal scores the earliest child in "
            "node.children wins (compare with >, not >=)"
        )


def as_node_fields(obj: Any, name: str) -> None:
    for attr in ("state", "parent", "move", "children", "untried", "visits", "value"):
        if not hasattr(obj, attr):
            fail(f"{name} has no attribute `{attr}`: build children with new_node(...)")


@pytest.mark.task(3)
def test_expand(learner: Any) -> None:
    for game, moves in ((TTT, (4, 0)), (RefConnectK(4, 5, 4), (2, 2, 1))):
        state = after(game, *moves)
        node = c_node(game, state)
        untried_before = list(node.untried)
        name = f"expand({game!r}, node at {board(game, state)})"
        child = call_learner(name, learner.expand, game, node)
        assert_returned(child, name, what="the new child Node")
        as_node_fields(child, name)
        first = untried_before[0]
        if child.move != first:
            clue = (
                " (that is the LAST untried move: pop(0) takes the first)"
                if child.move == untried_before[-1]
                else ""
            )
            fail(
                f"{name} expanded move {fmt(child.move)}{clue}; expected {first}, the first of "
                f"node.untried = {untried_before}"
            )
        if node.untried != untried_before[1:]:
            fail(
                f"after {name} node.untried is {fmt(node.untried)}; expected "
                f"{untried_before[1:]}: take the expanded move off the list"
            )
        if node.children.get(first) is not child:
            fail(
                f"after {name} node.children is {fmt(list(node.children))}; expected the new "
                f"child stored as node.children[{first}]"
            )
        if child.parent is not node:
            fail(f"the child from {name} has parent {fmt(child.parent)}; expected the node")
        want_state = game.play(state, first)
        if child.state != want_state:
            fail(
                f"the child from {name} holds the state {board(game, child.state)}; expected "
                f"{board(game, want_state)} (the node's state after move {first})"
            )
        if list(child.untried) != game.legal_moves(want_state):
            fail(
                f"the child from {name} has untried = {fmt(child.untried)}; expected the legal "
                f"moves of its own state, {game.legal_moves(want_state)}"
            )
        if child.untried is node.untried:
            fail(f"the child from {name} shares its untried list with its parent")
        if child.visits != 0 or child.value != 0:
            fail(
                f"the child from {name} starts with visits={child.visits}, "
                f"value={fmt(child.value)}; expected 0 and 0.0 (backpropagate counts the visit)"
            )


def ref_rollout(game: Any, state: State, rng: np.random.Generator) -> int:
    while not game.is_terminal(state):
        moves = game.legal_moves(state)
        state = game.play(state, moves[rng.integers(len(moves))])
    return game.winner(state)


def rng_state(rng: np.random.Generator) -> Any:
    return rng.bit_generator.state["state"]


def same_under_global_reseed(run: Callable[[], Any], name: str) -> None:
    """Fail when `run` (which builds its own seeded Generator) changes with the global seeds."""
    outs = []
    for global_seed in (1, 2):
        np.random.seed(global_seed)
        random.seed(global_seed)
        outs.append(run())
    if outs[0] != outs[1]:
        fail(
            f"{name} gave different results for the same rng seed once the global np.random / "
            "random seeds changed: it draws from the global generator. Draw every random "
            "number from the rng argument (rng.integers, rng.random)"
        )


@pytest.mark.task(3)
def test_rollout(learner: Any) -> None:
    same_under_global_reseed(
        lambda: [
            learner.rollout(TTT, TTT.initial_state(), rng)
            for rng in [np.random.default_rng(7)]
            for _ in range(20)
        ],
        "rollout(TicTacToe(), empty board, rng)",
    )
    game_c = RefConnectK(4, 5, 4)
    cases = [(TTT, TTT.initial_state()), (TTT, after(TTT, 4, 0)), (game_c, after(game_c, 2))]
    for game, state in cases:
        for seed in range(12):
            mine, ref = np.random.default_rng(seed), np.random.default_rng(seed)
            name = f"rollout({game!r}, {board(game, state)}, default_rng({seed}))"
            got = call_learner(name, learner.rollout, game, state, mine)
            want = ref_rollout(game, state, ref)
            if got != want and rng_state(mine) == rng_state(ref) and got == -want:
                fail(
                    f"{name} is {fmt(got)}; the check's rollout with the same generator, drawing "
                    f"the same numbers, gives {want}: the sign is flipped. Return "
                    "game.winner(state) itself (1 if X won, -1 if O won), not the result from "
                    "the view of the player to move at the start"
                )
            if got != want or rng_state(mine) != rng_state(ref):
                untouched = rng_state(mine) == rng_state(np.random.default_rng(seed))
                fail(
                    f"{name} is {fmt(got)}; the check's rollout with the same generator gives "
                    f"{want}"
                    + (
                        ", and your rollout drew nothing from rng"
                        if untouched
                        else ""
                        if got != want
                        else ", but rng was not left where one draw per move leaves it"
                    )
                    + ". Draw exactly one rng.integers(len(moves)) per move and play "
                    "moves[that] until the game is over; return game.winner(state)"
                )
    finished = after(TTT, 0, 3, 1, 4, 2)
    rng = np.random.default_rng(3)
    before = rng_state(rng)
    name = f"rollout(TicTacToe(), {board(TTT, finished)}, rng)  [X has won]"
    got = call_learner(name, learner.rollout, TTT, finished, rng)
    if got != 1 or rng_state(rng) != before:
        fail(f"{name} is {fmt(got)}; expected 1, drawing nothing from rng (the game is over)")


def chain(game: Any, moves: tuple[int, ...]) -> list[CNode]:
    nodes = [c_node(game, game.initial_state())]
    for m in moves:
        child = c_node(game, game.play(nodes[-1].state, m), nodes[-1], m)
        nodes[-1].children[m] = child
        nodes.append(child)
    for i, n in enumerate(nodes):
        n.visits, n.value = 10 - i, float(3 - i)
    return nodes


@pytest.mark.task(3)
def test_backpropagate(learner: Any) -> None:
    moves = (4, 0, 8)
    for winner in (1, -1, 0):
        nodes = chain(TTT, moves)
        start = [(n.visits, n.value) for n in nodes]
        name = f"backpropagate(TicTacToe(), leaf after moves {list(moves)}, winner={winner})"
        call_learner(name, learner.backpropagate, TTT, nodes[-1], winner)
        got = [(n.visits, n.value) for n in nodes]
        movers = [-TTT.to_move(n.state) for n in nodes]
        want = [(v + 1, val + winner * p) for (v, val), p in zip(start, movers, strict=True)]
        if got == want:
            continue
        variants = {
            "the result added as it is, from X's view, at every node (add it from the view of "
            "the player who moved into each node: +1 if they won)": [
                (v + 1, val + winner) for v, val in start
            ],
            "the result added from the view of the player to MOVE at each node (use the player "
            "who just moved into it: -to_move(node.state))": [
                (v + 1, val - winner * p) for (v, val), p in zip(start, movers, strict=True)
            ],
            "the root left out (walk up to and including the node whose parent is None)": [
                *start[:1],
                *want[1:],
            ],
            "the root's value left out (the root gets the result too, from the view of the "
            "player who moved into it: -to_move(root.state))": [
                (start[0][0] + 1, start[0][1]),
                *want[1:],
            ],
            "only the leaf updated (walk up through node.parent to the root)": [
                *start[:-1],
                want[-1],
            ],
            "visits not counted": [(v, val) for (v, _), (_, val) in zip(start, want, strict=True)],
        }
        label = matching_mistake(got, variants, exact=True)
        prefix = f"backpropagate looks like {label}. " if label else ""
        rows = "; ".join(
            f"after {list(moves[:i]) or 'nothing'}: {g} (expected {w})"
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            if g != w
        )
        fail(
            f"{prefix}{name}: (visits, value) per node, root first, differ — {rows}. Each node "
            "gets one visit and winner · (-to_move(node.state)): +1 when the player who moved "
            "into it won"
        )


@dataclass
class MctsRules:
    """The check's UCT with the variants that name the usual slips."""

    sign: str = "mover"  # "x": winner as is; "to_move": the player to move's view
    uct: str = ""
    expand_last: bool = False
    rollout_from_parent: bool = False
    select_partial: bool = False  # select among children while moves are still untried

    def run(self, game: Any, state: State, n: int, rng: np.random.Generator, c: float) -> CNode:
        score = uct_variant(self.uct)
        root = c_node(game, state)
        for _ in range(n):
            node = root
            while node.children and (not node.untried or self.select_partial):
                best, best_score = None, -INF
                for child in node.children.values():
                    s = score(child.value, child.visits, node.visits, c)
                    if best is None or s > best_score:
                        best, best_score = child, s
                assert best is not None
                node = best
            start = node
            if node.untried:
                move = node.untried.pop(-1 if self.expand_last else 0)
                child = c_node(game, game.play(node.state, move), node, move)
                node.children[move] = child
                node = child
            winner = ref_rollout(game, (start if self.rollout_from_parent else node).state, rng)
            walk: CNode | None = node
            while walk is not None:
                walk.visits += 1
                mover = -game.to_move(walk.state)
                if self.sign == "x":
                    walk.value += winner
                elif self.sign == "to_move":
                    walk.value -= winner * mover
                else:
                    walk.value += winner * mover
                walk = walk.parent
        return root


MCTS_SLIPS: dict[str, dict[str, Any]] = {
    "results backed up from X's view at every node (each node's value is from the view of the "
    "player who moved into it: +winner for X's moves, -winner for O's)": {"sign": "x"},
    "results backed up from the view of the player to move at each node, so every choice "
    "prefers the opponent's best (use the player who moved INTO the node)": {"sign": "to_move"},
    "the last untried move expanded first (pop(0): the first)": {"expand_last": True},
    "the rollout started from the node selected, not from the child just expanded": {
        "rollout_from_parent": True
    },
    "selection continuing into a node's children while it still has untried moves (expand "
    "first; select only among the children of a fully expanded node)": {"select_partial": True},
    **{f"UCT with {text}": {"uct": kind} for kind, text in UCT_VARIANTS.items()},
}


def as_move(got: Any, name: str) -> int:
    assert_returned(got, name, what="a move")
    if isinstance(got, bool) or not isinstance(got, int | np.integer):
        kind = type(got).__name__
        fail(f"{name} returned a {kind}; expected the move itself (an int), e.g. best.move")
    return int(got)


def root_stats(root: Any, name: str) -> dict[int, tuple[int, float]]:
    assert_returned(root, name, what="the root Node")
    as_node_fields(root, name)
    return {int(m): (int(ch.visits), float(ch.value)) for m, ch in root.children.items()}


def check_tree(game: Any, root: Any, n: int, name: str) -> None:
    if root.visits != n:
        fail(f"the root from {name} has {root.visits} visits; expected {n}, one per simulation")
    total = sum(ch.visits for ch in root.children.values())
    if total != n:
        fail(
            f"the root's children from {name} have {total} visits together; expected {n}: "
            "every simulation passes through exactly one child of the root"
        )
    stack = [root]
    while stack:
        node = stack.pop()
        for move, child in node.children.items():
            if child.parent is not node or child.move != move:
                fail(f"a child in the tree from {name} has the wrong parent or move")
            if child.state != game.play(node.state, move):
                fail(f"the child of move {move} in the tree from {name} holds the wrong state")
            below = sum(g.visits for g in child.children.values())
            if not game.is_terminal(child.state) and child.visits != below + 1:
                fail(
                    f"a node of the tree from {name} ({board(game, child.state)}) has "
                    f"{child.visits} visits but its children {below}: a node not at the end of "
                    "the game is visited once when it is expanded and once per simulation "
                    "through it"
                )
            stack.append(child)


MCTS_CASES = [
    # game, moves, n, seed, c
    ("ttt", (), 300, 0, math.sqrt(2)),
    ("ttt", (4, 0), 250, 1, 0.7),
    ("ttt", (0, 4, 8), 200, 2, 2.0),
    ("connect", (2, 2, 1), 150, 3, math.sqrt(2)),
]


def mcts_game(kind: str) -> Any:
    return TTT if kind == "ttt" else RefConnectK(4, 5, 4)


@pytest.mark.task(3)
def test_mcts_replayed(learner: Any) -> None:
    same_under_global_reseed(
        lambda: root_stats(
            learner.mcts(TTT, after(TTT, 4), 120, np.random.default_rng(9)), "mcts(...)"
        ),
        "mcts(TicTacToe(), X in the centre, 120, rng)",
    )
    for kind, moves, n, seed, c in MCTS_CASES:
        game = mcts_game(kind)
        state = after(game, *moves)
        name = f"mcts({game!r}, {board(game, state)}, {n}, default_rng({seed}), c={c:.3g})"
        root = call_learner(name, learner.mcts, game, state, n, np.random.default_rng(seed), c)
        got = root_stats(root, name)
        if not got and not root.untried:
            fail(
                f"the root from {name} has no children and no untried moves: build it with "
                "new_node(game, state), which lists its legal moves in untried"
            )
        want_root = MctsRules().run(game, state, n, np.random.default_rng(seed), c)
        want = {m: (ch.visits, ch.value) for m, ch in want_root.children.items()}
        if got == want:
            check_tree(game, root, n, name)
            continue

        def variants(game: Any = game, state: State = state, n: int = n, seed: int = seed,
                     c: float = c) -> dict[str, Any]:  # fmt: skip
            out = {}
            for text, change in MCTS_SLIPS.items():
                r = MctsRules(**change).run(game, state, n, np.random.default_rng(seed), c)
                out[text] = {m: (ch.visits, ch.value) for m, ch in r.children.items()}
            return out

        label = matching_mistake(got, variants, exact=True)
        if label is None:
            check_tree(game, root, n, name)
        prefix = f"mcts looks like {label}. " if label else ""
        diff = [m for m in sorted(set(got) | set(want)) if got.get(m) != want.get(m)]
        m = diff[0]
        fail(
            f"{prefix}{name}: the root child of move {m} has (visits, value) "
            f"{got.get(m, 'missing')}; the check's own UCT with the same generator gives "
            f"{want.get(m, 'no such child')} ({len(diff)} of {len(want)} children differ). "
            f"All children (move: visits): yours { ({k: v[0] for k, v in got.items()}) }, "
            f"expected { ({k: v[0] for k, v in want.items()}) }"
        )


FORCED = [
    ("ttt", (0, 3, 1, 4), 2, "X wins at once at cell 2"),
    ("ttt", (0, 4, 1), 2, "O must block at cell 2"),
    ("ttt", (4, 0, 8, 2), 1, "X must block at cell 1"),
    ("connect", (0, 0, 1, 1, 2, 2), 3, "X wins at once in column 3"),
    ("connect", (0, 0, 1, 1, 2), 3, "O must block column 3"),
]


@pytest.mark.task(3)
def test_mcts_finds_forced_moves(learner: Any) -> None:
    n = 400
    for kind, moves, want, what in FORCED:
        game = mcts_game(kind)
        state = after(game, *moves)
        for seed in range(3):
            name = f"mcts_move({game!r}, {board(game, state)}, {n}, default_rng({seed}))"
            got = as_move(
                call_learner(name, learner.mcts_move, game, state, n, np.random.default_rng(seed)),
                name,
            )
            root = MctsRules().run(game, state, n, np.random.default_rng(seed), math.sqrt(2))
            visits = {m: ch.visits for m, ch in root.children.items()}
            ref = max(visits, key=lambda m: visits[m])
            assert ref == want
            if got != want:
                values = {m: ch.value / ch.visits for m, ch in root.children.items()}
                clue = ""
                if got == max(values, key=lambda m: values[m]):
                    clue = " (the child with the best mean value: choose the MOST VISITED one)"
                elif got == min(visits, key=lambda m: visits[m]):
                    clue = " (the least visited child)"
                fail(
                    f"{name} is {fmt(got)}{clue}; expected {want}: {what}. With the same "
                    f"generator the root's visits are {visits}"
                )
    error = raised(learner.mcts_move, TTT, after(TTT, 0, 3, 1, 4, 2), 10, np.random.default_rng(0))
    if not isinstance(error, ValueError):
        got_text = "returned normally" if error is None else f"raised {type(error).__name__}"
        fail(f"mcts_move on a finished game {got_text}; expected a ValueError (no move to make)")


@pytest.mark.task(3)
def test_mcts_move_is_most_visited(learner: Any) -> None:
    """Short searches, where the most visited child and the best mean often differ."""
    for moves, n, c in (((), 40, 1.0), ((4,), 30, 0.5), ((0, 4), 25, 2.0), ((1,), 60, 1.4)):
        state = after(TTT, *moves)
        for seed in range(4):
            name = f"mcts_move(TicTacToe(), {board(TTT, state)}, {n}, default_rng({seed}), c={c})"
            got = as_move(
                call_learner(
                    name, learner.mcts_move, TTT, state, n, np.random.default_rng(seed), c
                ),
                name,
            )
            root = MctsRules().run(TTT, state, n, np.random.default_rng(seed), c)
            visits = {m: ch.visits for m, ch in root.children.items()}
            want = max(visits, key=lambda m, visits=visits: visits[m])
            if got == want:
                continue
            means = {m: ch.value / ch.visits for m, ch in root.children.items()}
            clue = ""
            if got == max(means, key=lambda m, means=means: means[m]):
                clue = (
                    " (the child with the best mean value, which a child visited once or twice "
                    "can win by luck: choose the MOST VISITED one)"
                )
            elif visits.get(got) == visits[want]:
                clue = " (as many visits as the expected one: ties go to the earliest child)"
            fail(
                f"{name} is {fmt(got)}{clue}; expected {want}. With the same generator the "
                f"root children's visits are {visits}"
            )


# ----- task 4: learning from self-play ----------------------------------------------------------
@pytest.mark.task(4)
def test_afterstate_value(learner: Any) -> None:
    x_won = after(TTT, 0, 3, 1, 4, 2)
    o_won = after(TTT, 0, 3, 1, 4, 8, 5)
    draw = after(TTT, 0, 4, 8, 1, 7, 6, 2, 5, 3)
    mid = after(TTT, 0, 4)  # X to move; O just moved
    mirror = after(TTT, 2, 4)  # the same position reflected
    key = TTT.canonical(mid)
    values = {key: 0.3, mid if mid != key else mirror: -0.9}
    cases = [
        (x_won, 1.0, "X has just won", {}),
        (
            o_won,
            1.0,
            "O has just won",
            {
                "winner(state), X's view (it is O who moved in and won: +1)": -1.0,
                "the value for the player to move (who has lost)": -1.0,
            },
        ),
        (draw, 0.0, "a full board, a draw", {}),
        (mid, 0.3, "a position in the table under game.canonical(state)", {}),
        (mirror, 0.3, "its mirror image: the same canonical key", {}),
        (after(TTT, 4), 0.0, "a position never seen", {}),
    ]
    for state, want, what, extra in cases:
        name = f"afterstate_value(TicTacToe(), values, {board(TTT, state)})  [{what}]"
        given = dict(values)
        got = call_learner(name, learner.afterstate_value, TTT, given, state)
        assert_returned(got, name, what="the value")
        if given != values:
            fail(f"{name} changed the table: reading a value must not store anything")
        raw = values.get(state)
        mistakes = dict(extra)
        if raw is not None and raw != want:
            mistakes["the table read at the raw state, not at game.canonical(state)"] = raw
        if state in (x_won, o_won):
            mistakes["the value for the player to move (who has lost)"] = -1.0
        assert_close(got, want, name=name, rtol=0, atol=1e-12, mistakes=mistakes)


def ref_choose(
    game: Any,
    state: State,
    values: dict[State, float],
    epsilon: float,
    rng: np.random.Generator,
    kind: str = "",
) -> int:
    moves = game.legal_moves(state)
    explore = moves[rng.integers(len(moves))] if kind == "index_first" else None
    u = rng.random() if kind != "no_u_at_zero" or epsilon > 0 else 1.0
    if explore is not None and u < epsilon:
        return explore
    if (u < epsilon) != (kind == "swapped"):
        if kind == "explore_others":
            scores = [ref_after(game, values, game.play(state, m)) for m in moves]
            others = [m for m, s in zip(moves, scores, strict=True) if s != max(scores)] or moves
            return others[rng.integers(len(others))]
        return moves[rng.integers(len(moves))]
    scores = [ref_after(game, values, game.play(state, m), kind) for m in moves]
    top = min(scores) if kind == "min" else max(scores)
    best = [m for m, s in zip(moves, scores, strict=True) if s == top]
    if kind == "first":
        return best[0]
    return best[rng.integers(len(best))]


def ref_after(game: Any, values: dict[State, float], state: State, kind: str = "") -> float:
    if game.is_terminal(state):
        w = game.winner(state)
        return float(w if kind == "x_view" else w * -game.to_move(state))
    return values.get(state if kind == "raw" else game.canonical(state), 0.0)


CHOOSE_VARIANTS = {
    "first": "ties broken by the first best move (draw best[rng.integers(len(best))])",
    "swapped": "ε and 1 − ε swapped (explore when u < epsilon)",
    "explore_others": "exploration only among the non-best moves (explore over all of them)",
    "min": "the move whose after-state value is SMALLEST (the value is for the player who "
    "just moved: you, so take the largest)",
    "raw": "values read at the raw after-state, not game.canonical(...) (use afterstate_value)",
    "index_first": "the exploration index drawn before u, on every call (draw u = rng.random() "
    "first, then moves[rng.integers(len(moves))] only when u < epsilon)",
    "no_u_at_zero": "u skipped when epsilon is 0 (draw u = rng.random() on every call, so that "
    "the draws do not depend on epsilon)",
}


@cached
def learned_like_table() -> dict[State, float]:
    """A table with the values of a short self-play run, rounded so ties happen."""
    values = ref_self_play(TTT, 300, np.random.default_rng(2), 0.5, 0.3)
    return {k: round(v, 1) for k, v in values.items()}


@pytest.mark.task(4)
def test_choose_move(learner: Any) -> None:
    values = learned_like_table()
    probe = after(TTT, 0, 3, 1, 4)  # X wins at cell 2: greedy and exploring moves differ
    same_under_global_reseed(
        lambda: [
            learner.choose_move(TTT, probe, dict(values), 0.5, rng)
            for rng in [np.random.default_rng(3)]
            for _ in range(30)
        ],
        f"choose_move(TicTacToe(), {board(TTT, probe)}, values, 0.5, rng)",
    )
    states = [s for s in reachable(TTT) if not TTT.is_terminal(s)][::37]
    for epsilon in (0.0, 0.3, 0.8):
        mine, ref = np.random.default_rng(4), np.random.default_rng(4)
        got_moves, want_moves = [], []
        for state in states:
            name = f"choose_move(TicTacToe(), {board(TTT, state)}, values, {epsilon}, rng)"
            got = call_learner(name, learner.choose_move, TTT, state, dict(values), epsilon, mine)
            assert_returned(got, name, what="a move")
            got_moves.append(got)
            want_moves.append(ref_choose(TTT, state, values, epsilon, ref))
            if got != want_moves[-1] or rng_state(mine) != rng_state(ref):
                i = len(got_moves) - 1

                def variants(epsilon: float = epsilon, n: int = i + 1) -> dict[str, Any]:
                    out = {}
                    for kind, text in CHOOSE_VARIANTS.items():
                        r = np.random.default_rng(4)
                        out[text] = [
                            ref_choose(TTT, s, values, epsilon, r, kind) for s in states[:n]
                        ]
                    return out

                label = matching_mistake(got_moves, variants, exact=True)
                prefix = f"choose_move looks like {label}. " if label else ""
                scores = {
                    m: round(ref_after(TTT, values, TTT.play(state, m)), 3)
                    for m in TTT.legal_moves(state)
                }
                fail(
                    f"{prefix}{name} is {fmt(got)}"
                    + ("" if got != want_moves[-1] else " as expected, but rng was left elsewhere")
                    + f"; the check, with the same generator after the same {i} earlier calls, "
                    f"chooses {want_moves[-1]}. After-state values of the moves: {scores}. "
                    "Draw u = rng.random() on every call; explore with "
                    "moves[rng.integers(len(moves))] when u < epsilon; otherwise "
                    "best[rng.integers(len(best))] among the moves of greatest value"
                )


def ref_self_play(
    game: Any,
    n_games: int,
    rng: np.random.Generator,
    alpha: float,
    epsilon: float,
    values: dict[State, float] | None = None,
    kind: str = "",
) -> dict[State, float]:
    values = {} if values is None else values
    for _ in range(n_games):
        state = game.initial_state()
        seen: list[State] = []
        previous = None
        while not game.is_terminal(state):
            mover = game.to_move(state)
            state = game.play(state, ref_choose(game, state, values, epsilon, rng))
            if kind == "on_policy":
                if previous is not None:
                    key = game.canonical(previous)
                    old = values.get(key, 0.0)
                    values[key] = old + alpha * (-ref_after(game, values, state) - old)
                previous = state
                continue
            if game.is_terminal(state):
                if kind == "store_final":
                    key = game.canonical(state)
                    old = values.get(key, 0.0)
                    values[key] = old + alpha * (ref_after(game, values, state) - old)
                continue
            if kind == "x_only" and mover != 1:
                continue
            if kind == "backward":
                seen.append(state)
                continue
            update(game, values, state, alpha, kind)
        for s in reversed(seen):
            update(game, values, s, alpha, kind)
    return values


def update(game: Any, values: dict[State, float], state: State, alpha: float, kind: str) -> None:
    replies = [
        values.get(game.canonical(game.play(state, r)), 0.0)
        if kind == "replies_from_table"
        else ref_after(game, values, game.play(state, r))
        for r in game.legal_moves(state)
    ]
    target = -max(replies)
    if kind == "no_negation":
        target = max(replies)
    elif kind == "min":
        target = -min(replies)
    key = state if kind == "raw" else game.canonical(state)
    old = values.get(key, 0.0)
    values[key] = target if kind == "replace" else old + alpha * (target - old)


SELF_PLAY_VARIANTS = {
    "no_negation": "the opponent's best reply taken without the minus sign: the reply's value "
    "is from the opponent's view, so from yours it is -max (learning from the wrong player's "
    "perspective)",
    "min": "-min over the replies (the opponent picks the reply best for THEM: -max)",
    "on_policy": "an on-policy target, -value of the after-state actually played next (the "
    "README's target is the best reply: -max over all replies)",
    "backward": "updates made at the end of each game from the last move back (update right "
    "after each move)",
    "x_only": "only X's moves updated (both players learn from the same table)",
    "store_final": "finished after-states stored in the table (their value is fixed: +1 or 0; "
    "only unfinished ones are learned)",
    "raw": "values stored at the raw state, not game.canonical(state)",
    "replace": "the value replaced by the target (move a fraction alpha towards it)",
    "replies_from_table": "the replies' values read from the table alone, so a reply that wins "
    "for the opponent counts 0 instead of +1 (use afterstate_value for every reply)",
}


def compare_tables(got: Any, want: dict[State, float], name: str, variants: Callable) -> None:
    assert_returned(got, name, what="the table of values")
    if not isinstance(got, dict):
        fail(f"{name} should return a dict (state -> value); got {type(got).__name__}")
    same_keys = set(got) == set(want)
    close = same_keys and all(abs(float(got[k]) - want[k]) <= 1e-9 for k in want)
    if close:
        return
    label = None
    for text, table in variants().items():
        if set(table) == set(got) and all(abs(float(got[k]) - table[k]) <= 1e-9 for k in table):
            label = text
            break
    prefix = f"{name} looks like {label}. " if label else ""
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    if missing or extra:
        game = TTT if len(next(iter(want))) == 9 else RefConnectK(3, 4, 3)
        example = missing[0] if missing else extra[0]
        fail(
            f"{prefix}{name} has {len(got)} entries; the check's replay with the same generator "
            f"has {len(want)} ({len(missing)} missing, {len(extra)} not expected, e.g. "
            f"{board(game, example)} {'missing' if missing else 'not expected'})"
        )
    k = next(k for k in want if abs(float(got[k]) - want[k]) > 1e-9)
    game = TTT if len(k) == 9 else RefConnectK(3, 4, 3)
    n_bad = sum(abs(float(got[q]) - want[q]) > 1e-9 for q in want)
    fail(
        f"{prefix}{name}: values[{board(game, k)}] is {float(got[k]):.6g}; the check's replay "
        f"with the same generator gives {want[k]:.6g} ({n_bad} of {len(want)} entries differ)"
    )


@pytest.mark.task(4)
def test_self_play_replayed(learner: Any) -> None:
    for game, n_games, seed, alpha, epsilon in (
        (TTT, 40, 3, 0.3, 0.25),
        (RefConnectK(3, 4, 3), 15, 4, 0.5, 0.2),
    ):
        name = (
            f"self_play_td({game!r}, {n_games}, default_rng({seed}), alpha={alpha}, "
            f"epsilon={epsilon})"
        )
        got = call_learner(
            name, learner.self_play_td, game, n_games, np.random.default_rng(seed), alpha, epsilon
        )
        want = ref_self_play(game, n_games, np.random.default_rng(seed), alpha, epsilon)

        def variants(game: Any = game, n_games: int = n_games, seed: int = seed,
                     alpha: float = alpha, epsilon: float = epsilon) -> dict[str, Any]:  # fmt: skip
            out = {
                text: ref_self_play(
                    game, n_games, np.random.default_rng(seed), alpha, epsilon, kind=kind
                )
                for kind, text in SELF_PLAY_VARIANTS.items()
            }
            if alpha != 0.5:
                out[
                    f"the alpha argument not used: the table is the check's replay with alpha=0.5 "
                    f"(the default) instead of alpha={alpha}"
                ] = ref_self_play(game, n_games, np.random.default_rng(seed), 0.5, epsilon)
            if epsilon != 0.2:
                out[
                    f"the epsilon argument not used: the table is the check's replay with "
                    f"epsilon=0.2 (the default) instead of epsilon={epsilon}; pass epsilon on to "
                    "choose_move"
                ] = ref_self_play(game, n_games, np.random.default_rng(seed), alpha, 0.2)
            return out

        compare_tables(got, want, name, variants)
    # a table passed in is trained further (in place or in a copy: the returned table is
    # judged); with values already learned, the variants that agree on a fresh table (an
    # all-zero max hides a lot) come apart
    start = pretrained_table()
    given = dict(start)
    name = (
        "self_play_td(TicTacToe(), 30, default_rng(9), 0.5, 0.2, values=<a table from 300 games>)"
    )
    got = call_learner(
        name, learner.self_play_td, TTT, 30, np.random.default_rng(9), 0.5, 0.2, given
    )
    want = ref_self_play(TTT, 30, np.random.default_rng(9), 0.5, 0.2, dict(start))
    compare_tables(
        got,
        want,
        name,
        lambda: {
            **{
                text: ref_self_play(
                    TTT, 30, np.random.default_rng(9), 0.5, 0.2, dict(start), kind=kind
                )
                for kind, text in SELF_PLAY_VARIANTS.items()
            },
            "the table it was given ignored: training started from an empty table (train the "
            "values passed in further)": ref_self_play(TTT, 30, np.random.default_rng(9), 0.5, 0.2),
        },
    )


@cached
def pretrained_table() -> dict[State, float]:
    return ref_self_play(TTT, 300, np.random.default_rng(8), 0.5, 0.2)


def greedy_agent(values: dict[State, float]) -> Callable[[Any, State, Any], int]:
    def agent(game: Any, state: State, rng: Any) -> int:
        moves = game.legal_moves(state)
        scores = [ref_after(game, values, game.play(state, m)) for m in moves]
        return moves[int(np.argmax(scores))]

    return agent


def perfect_agent(game: Any, state: State, rng: np.random.Generator) -> int:
    values = ttt_values()
    moves = game.legal_moves(state)
    scores = [-values[game.play(state, m)] for m in moves]
    best = [m for m, s in zip(moves, scores, strict=True) if s == max(scores)]
    return best[rng.integers(len(best))]


def ref_random(game: Any, state: State, rng: np.random.Generator) -> int:
    moves = game.legal_moves(state)
    return moves[rng.integers(len(moves))]


def ref_game(game: Any, x_agent: Any, o_agent: Any, rng: np.random.Generator) -> int:
    state = game.initial_state()
    while not game.is_terminal(state):
        agent = x_agent if game.to_move(state) == 1 else o_agent
        state = game.play(state, agent(game, state, rng))
    return game.winner(state)


def ref_match(game: Any, a: Any, b: Any, n: int, rng: np.random.Generator) -> tuple:
    w = d = lo = 0
    for i in range(n):
        r = ref_game(game, a, b, rng) if i % 2 == 0 else -ref_game(game, b, a, rng)
        w, d, lo = w + (r == 1), d + (r == 0), lo + (r == -1)
    return w, d, lo


TRAIN_GAMES = 2000


@once_per_run
def trained_table(learner: Any) -> dict[State, float]:
    name = f"self_play_td(TicTacToe(), {TRAIN_GAMES}, default_rng(0))"
    got = call_learner(name, learner.self_play_td, TTT, TRAIN_GAMES, np.random.default_rng(0))
    assert_returned(got, name, what="the table of values")
    if not isinstance(got, dict):
        fail(f"{name} should return a dict; got {type(got).__name__}")
    return {k: float(v) for k, v in got.items()}


@pytest.mark.task(4)
def test_self_play_learns_to_play(learner: Any) -> None:
    values, error = trained_table(learner)
    if error is not None:
        raise error
    assert values is not None
    agent = greedy_agent(values)
    table = ttt_values()
    bad = [
        s
        for s in table
        if not TTT.is_terminal(s) and -table[TTT.play(s, agent(TTT, s, None))] != table[s]
    ]
    n_games = 1000
    w, d, lo = ref_match(TTT, agent, ref_random, n_games, np.random.default_rng(21))
    if lo:
        fail(
            f"after self_play_td(TicTacToe(), {TRAIN_GAMES}, default_rng(0)) the greedy player "
            f"of your table lost {lo} of {n_games} games to a uniformly random player "
            f"(won {w}, drew {d}; half of them as O): it did not learn to stop losing within "
            f"{TRAIN_GAMES} games of self-play (the reference never loses). Its move is not "
            f"optimal in {len(bad)} of the {sum(not TTT.is_terminal(s) for s in table)} "
            "positions"
        )
    w, d, lo = ref_match(TTT, agent, perfect_agent, 200, np.random.default_rng(22))
    if lo:
        fail(
            f"the greedy player of your table lost {lo} of 200 games to a perfect player (one "
            "that picks at random among the moves of greatest exact value); tic-tac-toe is a "
            f"draw with perfect play, and the reference draws every game. Its move is not "
            f"optimal in {len(bad)} positions"
        )


# ----- task 5: evaluation -----------------------------------------------------------------------
@pytest.mark.task(5)
def test_random_agent(learner: Any) -> None:
    same_under_global_reseed(
        lambda: [
            learner.random_agent(TTT, TTT.initial_state(), rng)
            for rng in [np.random.default_rng(3)]
            for _ in range(30)
        ],
        "random_agent(TicTacToe(), empty board, rng)",
    )
    game_c = RefConnectK(4, 5, 4)
    for game, state in ((TTT, after(TTT, 4)), (game_c, after(game_c, 1, 1, 1, 1))):
        mine, ref = np.random.default_rng(6), np.random.default_rng(6)
        got = [learner.random_agent(game, state, mine) for _ in range(200)]
        want = [ref_random(game, state, ref) for _ in range(200)]
        if got != want or rng_state(mine) != rng_state(ref):
            bad = [m for m in got if m not in game.legal_moves(state)]
            if bad:
                fail(
                    f"random_agent({game!r}, {board(game, state)}, rng) returned {bad[0]}, not "
                    f"a legal move ({game.legal_moves(state)})"
                )
            fail(
                f"random_agent({game!r}, {board(game, state)}, rng) over 200 calls differs from "
                f"moves[rng.integers(len(moves))] with the same generator: first {got[:8]}, "
                f"expected {want[:8]}"
            )


class Recorder:
    """A scripted agent: the lowest legal move, noting the player it moved for."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.calls: list[tuple[State, int]] = []
        self.rngs: list[Any] = []

    def __call__(self, game: Any, state: State, rng: Any) -> int:
        self.calls.append((state, game.to_move(state)))
        self.rngs.append(rng)
        return game.legal_moves(state)[0]


@pytest.mark.task(5)
def test_play_game(learner: Any) -> None:
    x, o = Recorder("x"), Recorder("o")
    rng = np.random.default_rng(0)
    name = "play_game(TicTacToe(), x_agent, o_agent, rng)"
    got = call_learner(name, learner.play_game, TTT, x, o, rng)
    # lowest-cell play: X 0, O 1, X 2, O 3, X 4, O 5, X 6 -> X wins on the 2-4-6 diagonal
    if [p for _, p in x.calls] != [1] * 4 or [p for _, p in o.calls] != [-1] * 3:
        fail(
            f"{name}: x_agent was asked for {len(x.calls)} moves and o_agent for {len(o.calls)}; "
            "with both playing the lowest free cell X needs 4 moves and O 3. Ask x_agent when "
            "game.to_move(state) is X (1), o_agent otherwise"
        )
    if any(r is not rng for r in x.rngs + o.rngs):
        fail(f"{name} did not pass its rng on to the agents: call agent(game, state, rng)")
    if got != 1:
        fail(f"{name} is {fmt(got)}; X wins that game (cells 2, 4, 6): return game.winner(state)")
    for x_agent, o_agent, seed in ((ref_random, ref_random, 3), (perfect_agent, ref_random, 4)):
        results = [
            learner.play_game(TTT, x_agent, o_agent, r)
            for r in [np.random.default_rng([seed, i]) for i in range(30)]
        ]
        want = [
            ref_game(TTT, x_agent, o_agent, r)
            for r in [np.random.default_rng([seed, i]) for i in range(30)]
        ]
        if results != want:
            fail(f"play_game with random agents: winners {results[:10]}; expected {want[:10]}")


class SideRecorder:
    """Plays the lowest legal move and notes, per game, which side it played."""

    def __init__(self) -> None:
        self.sides: list[int] = []

    def __call__(self, game: Any, state: State, rng: Any) -> int:
        if sum(1 for v in state if v != 0) <= 1:
            self.sides.append(game.to_move(state))
        return game.legal_moves(state)[0]


@pytest.mark.task(5)
def test_play_match(learner: Any) -> None:
    for n in (6, 7):
        a, b = SideRecorder(), SideRecorder()
        name = f"play_match(TicTacToe(), agent_a, agent_b, {n}, rng)"
        got = call_learner(name, learner.play_match, TTT, a, b, n, np.random.default_rng(0))
        assert_returned(got, name, what="(wins, draws, losses)")
        if not (isinstance(got, tuple) and len(got) == 3):
            fail(f"{name} should return a tuple (wins, draws, losses); got {fmt(got)}")
        want_sides = [1 if i % 2 == 0 else -1 for i in range(n)]
        sides = a.sides
        if sides != want_sides:
            side = {1: "X", -1: "O"}
            clue = (
                " (always first: alternate, or the first player's advantage decides the match)"
                if set(sides) == {1}
                else ""
            )
            fail(
                f"{name}: agent_a played {' '.join(side.get(s, '?') for s in sides)}{clue}; "
                f"expected {' '.join(side[s] for s in want_sides)}: X in games 0, 2, 4, …, O in "
                "games 1, 3, …"
            )
        # both agents play the lowest free cell, so X wins every game
        want = ((n + 1) // 2, 0, n // 2)
        if tuple(int(v) for v in got) != want:
            clue = ""
            if tuple(got) == (n // 2, 0, (n + 1) // 2):
                clue = " (those are agent_b's results: count them for agent_a)"
            elif tuple(got) == (n, 0, 0):
                clue = " (every X win counted for agent_a: when agent_a is O, X's win is its loss)"
            elif tuple(got) == (want[0], want[2], want[1]):
                # the same numbers with the last two swapped; a match of draws tells the order
                # apart from a loss counted as a draw
                drawn = call_learner(
                    "play_match(TicTacToe(), perfect, perfect, 4, rng)",
                    learner.play_match, TTT, perfect_agent, perfect_agent, 4,
                    np.random.default_rng(1),
                )  # fmt: skip
                if isinstance(drawn, tuple) and tuple(drawn) == (0, 0, 4):
                    clue = (
                        " (that is (wins, losses, draws): the draws and losses are swapped, and "
                        "a match of 4 draws between two perfect players gives (0, 0, 4) too; "
                        "return (wins, draws, losses), in that order)"
                    )
            fail(
                f"{name} is {fmt(got)}{clue}; expected {want}: the first player wins every game "
                "here, and agent_a is first in the even-numbered games"
            )
    name = "play_match(TicTacToe(), perfect, random, 40, default_rng(5))"
    got = call_learner(
        name, learner.play_match, TTT, perfect_agent, ref_random, 40, np.random.default_rng(5)
    )
    want = ref_match(TTT, perfect_agent, ref_random, 40, np.random.default_rng(5))
    if tuple(int(v) for v in got) != want:
        fail(
            f"{name} is {fmt(got)}; expected {want} (one rng for the whole match, passed to "
            "each agent's every call)"
        )


def ref_elo(score: float, log: Callable[[float], float] = math.log10) -> float:
    if score <= 0:
        return -INF
    if score >= 1:
        return INF
    return 400 * log(score / (1 - score))


@pytest.mark.task(5)
def test_elo_difference(learner: Any) -> None:
    for score in (0.5, 0.75, 0.1, 0.64, 0.999):
        name = f"elo_difference({score})"
        got = call_learner(name, learner.elo_difference, score)
        assert_returned(got, name, what="the Elo difference")
        assert_close(
            got,
            ref_elo(score),
            name=name,
            rtol=1e-12,
            mistakes={
                "the natural log (Elo uses log10)": ref_elo(score, math.log),
                "the sign flipped (a score above 1/2 is a positive difference)": -ref_elo(score),
                "400 · log10(score) without the odds (score / (1 − score))": 400
                * math.log10(score),
            },
        )
    for score, want in ((1.0, INF), (0.0, -INF)):
        name = f"elo_difference({score})"
        got = call_learner(
            name,
            learner.elo_difference,
            score,
            errors=(*LEARNER_ERRORS, ArithmeticError),
            hint="A score of 1 or 0 says nothing about how much stronger: return ±math.inf.",
        )
        if got != want:
            fail(f"{name} is {fmt(got)}; expected {want}")


def ref_summary(w: int, d: int, lo: int, z: float, kind: str = "") -> tuple[float, ...]:
    n = w + d + lo
    draw = {"draw_loss": 0.0, "draw_win": 1.0}.get(kind, 0.5)
    s = (w + draw * d) / n
    var = (w * (1 - s) ** 2 + d * (draw - s) ** 2 + lo * s**2) / (n - 1 if kind == "ddof1" else n)
    if kind == "binomial":
        var = s * (1 - s)
    if kind == "var_no_draws":
        var = (w * (1 - s) ** 2 + lo * s**2) / n
    half = z * (math.sqrt(var / n) if kind != "no_sqrt_n" else math.sqrt(var))
    if kind == "over_n":
        half = z * math.sqrt(var) / n
    if kind == "z_fixed":
        half = 1.96 * math.sqrt(var / n)
    low, high = s - half, s + half
    if kind != "no_clip":
        low, high = max(0.0, low), min(1.0, high)
    if kind == "elo_swapped":
        return (s, low, high, ref_elo(s), ref_elo(high), ref_elo(low))
    return (s, low, high, ref_elo(s), ref_elo(low), ref_elo(high))


SUMMARY_VARIANTS = {
    "draw_loss": "draws counted as losses (a draw scores 1/2)",
    "draw_win": "draws counted as wins (a draw scores 1/2)",
    "ddof1": "the variance divided by n − 1 (the README divides by n)",
    "binomial": "the binomial variance score · (1 − score), which ignores draws (use the "
    "variance of the per-game scores 1, 1/2, 0)",
    "no_sqrt_n": "the band without the 1/sqrt(n) (the standard error is sqrt(var / n))",
    "z_fixed": "z = 1.96 fixed (use the z argument)",
    "no_clip": "a band not clipped to [0, 1]",
    "over_n": "sqrt(var) / n (the standard error is sqrt(var / n) = sqrt(var) / sqrt(n))",
    "var_no_draws": "the draws left out of the variance (each draw adds (1/2 − score)²)",
    "elo_swapped": "elo_low and elo_high swapped (elo_low is the Elo of the band's low end)",
}


@pytest.mark.task(5)
def test_summarize(learner: Any) -> None:
    cases = [(30, 10, 20, 1.96), (6, 3, 1, 1.0), (9, 1, 0, 1.96), (12, 50, 8, 2.58), (0, 4, 6, 1.6)]
    for w, d, lo, z in cases:
        name = f"summarize({w}, {d}, {lo}, z={z})"
        got = call_learner(
            name, learner.summarize, w, d, lo, z, errors=(*LEARNER_ERRORS, ArithmeticError)
        )
        assert_returned(got, name, what="a Summary")
        try:
            got_t = tuple(float(v) for v in got)
        except (TypeError, ValueError):
            fail(f"{name} should be a Summary of six numbers; got {fmt(got)}")
        if len(got_t) != 6:
            fail(f"{name} should have six fields (score, low, high, elo, elo_low, elo_high)")
        want = ref_summary(w, d, lo, z)
        fields = ("score", "low", "high", "elo", "elo_low", "elo_high")
        for i, field_name in enumerate(fields):
            g, e = got_t[i], want[i]
            if math.isinf(e) and g == e:
                continue
            if not math.isinf(e) and math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-12):
                continue
            label = matching_mistake(
                got_t[: i + 1],
                lambda w=w, d=d, lo=lo, z=z, i=i: {
                    text: ref_summary(w, d, lo, z, kind)[: i + 1]
                    for kind, text in SUMMARY_VARIANTS.items()
                },
                rtol=1e-9,
                atol=1e-12,
            )
            prefix = f"{name} looks like {label}. " if label else ""
            fail(
                f"{prefix}{name}.{field_name} is {fmt(g)}; expected {fmt(e)}. Full: "
                f"{tuple(round(v, 4) for v in got_t)}, expected {tuple(round(v, 4) for v in want)}"
            )
    error = raised(learner.summarize, 0, 0, 0)
    if not isinstance(error, ValueError):
        got_text = "returned normally" if error is None else f"raised {type(error).__name__}"
        fail(f"summarize(0, 0, 0) {got_text}; expected a ValueError (no games)")


@pytest.mark.task(5)
def test_match_measures_strength(learner: Any) -> None:
    """The pieces together: the perfect player against random, with your match and summary."""
    name = "play_match(TicTacToe(), perfect, random, 200, default_rng(7))"
    got = call_learner(
        name, learner.play_match, TTT, perfect_agent, ref_random, 200, np.random.default_rng(7)
    )
    w, d, lo = (int(v) for v in got)
    summary = call_learner("summarize(...)", learner.summarize, w, d, lo)
    s = tuple(float(v) for v in summary)
    if lo != 0 or not (s[1] > 0.85 and s[3] > 300):
        fail(
            f"the perfect player against a random one: {w} wins, {d} draws, {lo} losses, "
            f"score {s[0]:.3f} (band {s[1]:.3f}–{s[2]:.3f}, Elo {s[3]:.0f}); expected no "
            "losses and a band above 0.85"
        )
