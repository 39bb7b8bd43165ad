"""Checks for p1-gradients: numerical vs exact gradients, gradient checks (relative error < 1e-7),
the exact gradient-descent update, convergence to least squares and the learning-rate limit."""

from __future__ import annotations

import numpy as np
import pytest

from aipath.checks import (
    assert_array,
    assert_close,
    assert_returned,
    assert_tuple,
    fail,
    gradient_check,
    rdataset,
    relative_error,
)


# ----- the losses, as given in the exercise (the learner's copy is not trusted) -----------------
def quadratic(x, A, b):
    return float(0.5 * x @ A @ x + b @ x)


def logistic_loss(w, X, y):
    z = X @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def mse_loss(w, X, y):
    return float(np.mean((X @ w - y) ** 2))


def forward_difference(f, x, eps):
    x = np.array(x, dtype=float)
    base, grad = f(x), np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        grad[index] = (f(x) - base) / eps
        x[index] = old
    return grad


@pytest.fixture(scope="module")
def mtcars():
    table = rdataset("datasets", "mtcars")
    features = table[["wt", "hp", "qsec"]].to_numpy(dtype=float)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    X = np.column_stack([np.ones(len(features)), features])
    return X, table["mpg"].to_numpy(dtype=float)


# ----- task 1: numerical gradient ---------------------------------------------------------------
def smooth_cases(rng):
    """(name, f, exact gradient, x): curved functions on inputs of several shapes."""
    W = rng.normal(size=(3, 4))
    return [
        (
            "sum(exp(x)) at x of shape (5,)",
            lambda v: float(np.sum(np.exp(v))),
            np.exp,
            rng.normal(size=5),
        ),
        (
            "sum(sin(x) * x) at x of shape (2, 3)",
            lambda v: float(np.sum(np.sin(v) * v)),
            lambda v: np.cos(v) * v + np.sin(v),
            rng.normal(size=(2, 3)),
        ),
        (
            "log(sum(exp(W))) at W of shape (3, 4)",
            lambda v: float(np.log(np.sum(np.exp(v)))),
            lambda v: np.exp(v) / np.sum(np.exp(v)),
            W,
        ),
    ]


def check_one_entry_at_a_time(shifts: list[tuple[float, int]], eps: float) -> None:
    """Every evaluation point must differ from x in one entry, by eps (or not at all).

    ``shifts`` holds (total shift, entries moved) for each point f was evaluated at.
    """
    if not shifts or max(total for total, _ in shifts) <= 1.5 * eps:
        return
    if max(moved for _, moved in shifts) <= 1:
        step = max(total for total, _ in shifts)
        fail(
            f"numerical_gradient moved one entry at a time, but by {step:.3g} where eps = "
            f"{eps:g} was given: step by the eps argument, f(x ± eps·e_i)"
        )
    fail(
        "numerical_gradient evaluated f at a point where more than one entry was moved "
        f"(a total shift of {max(total for total, _ in shifts):.3g} for eps = {eps:g}): put "
        "each entry back before nudging the next"
    )


@pytest.mark.task(1)
def test_numerical_gradient_is_accurate(learner, rng):
    for name, f, exact, x in smooth_cases(rng):
        want = exact(x)
        shifts = []

        def recorded(v, f=f, x=x, shifts=shifts):
            moved = np.abs(np.asarray(v, dtype=float) - x)
            shifts.append((float(moved.sum()), int(np.count_nonzero(moved > 1e-12))))
            return f(v)

        got = learner.numerical_gradient(recorded, x.copy())
        label = f"numerical_gradient of {name}"
        check_one_entry_at_a_time(shifts, 1e-5)
        assert_returned(got, label)
        got = np.asarray(got, dtype=float)
        if got.shape != x.shape:
            fail(f"{label} has shape {got.shape}; expected {x.shape}, the shape of x")
        err = relative_error(got, want)
        if err < 1e-7:
            continue
        if relative_error(got, forward_difference(f, x, 1e-5)) < 1e-9:
            fail(
                f"{label} has relative error {err:.2g} (must be < 1e-7): it looks like a forward "
                "difference (f(x + eps) − f(x)) / eps, whose error grows like eps. Use the "
                "central difference (f(x + eps) − f(x − eps)) / (2 eps)"
            )
        assert_array(
            got,
            want,
            name=label,
            rtol=1e-6,
            atol=1e-8,
            factors={
                "a division by eps where 2·eps belongs (x + eps and x − eps are 2·eps apart)": 2.0
            },
        )
        fail(f"{label} has relative error {err:.2g} against the exact gradient; must be < 1e-7")


@pytest.mark.task(1)
def test_numerical_gradient_uses_the_given_step(learner, rng):
    x = rng.normal(size=4)
    eps = 0.1
    got = np.asarray(learner.numerical_gradient(lambda v: float(np.sum(v**3)), x.copy(), eps))
    want = 3 * x**2 + eps**2  # the central difference of x³ with step eps, exactly
    assert_array(
        got,
        want,
        name="numerical_gradient(sum(x³), x, eps=0.1)",
        rtol=1e-9,
        atol=1e-12,
        mistakes={
            "a forward difference (f(x + eps) − f(x)) / eps: use the central difference "
            "(f(x + eps) − f(x − eps)) / (2 eps)": 3 * x**2 + 3 * x * eps + eps**2,
            "the exact derivative: is eps ignored? (the central difference with eps = 0.1 "
            "gives 3x² + eps²)": 3 * x**2,
        },
    )


@pytest.mark.task(1)
def test_numerical_gradient_leaves_x_unchanged(learner, rng):
    x = rng.normal(size=(2, 3))
    before = x.copy()
    seen = []

    def f(v):
        seen.append(np.array(v, copy=True))
        return float(np.sum(v**2))

    got = np.asarray(learner.numerical_gradient(f, x), dtype=float)
    if not np.array_equal(x, before):
        change = float(np.abs(x - before).max())
        why = (
            " — undoing x[i] += eps with x[i] -= eps does not always give back the same float; "
            "save the old value and assign it back"
            if change < 1e-12
            else ""
        )
        fail(
            f"numerical_gradient changed the caller's x (max change {change:.3g}){why}. Leave "
            "x exactly as it was: work on a copy (np.array(x, dtype=float))"
        )
    moves = [np.abs(v - before) for v in seen]
    check_one_entry_at_a_time(
        [(float(m.sum()), int(np.count_nonzero(m > 1e-12))) for m in moves], 1e-5
    )
    assert_array(
        got,
        2 * before,
        name="numerical_gradient(sum(x²)) at x of shape (2, 3)",
        rtol=1e-7,
        atol=1e-9,
    )


# ----- task 2: analytic gradients -----------------------------------------------------------------
def check_gradient(got, f, x, exact, name, named):
    """Name a known slip first (by comparing with what it produces), then run the gradient check."""
    assert_returned(got, name)
    got = np.asarray(got, dtype=float)
    if got.shape != np.shape(x):
        fail(f"{name} has shape {got.shape}; expected {np.shape(x)}, the shape of the variable")
    if relative_error(got, exact) > 1e-7:
        for label, wrong in named.items():
            if np.shape(wrong) == got.shape and relative_error(got, wrong) < 1e-9:
                fail(f"{name} looks like {label} (relative error {relative_error(got, exact):.3g})")
    gradient_check(f, np.array(x, dtype=float), got, tol=1e-7, name=name)


@pytest.mark.task(2)
def test_grad_quadratic(learner, rng):
    for d in (2, 5):
        A = rng.normal(size=(d, d))  # not symmetric
        b = rng.normal(size=d)
        x = rng.normal(size=d)
        exact = 0.5 * (A + A.T) @ x + b
        got = learner.grad_quadratic(x.copy(), A.copy(), b.copy())
        check_gradient(
            got,
            lambda v, A=A, b=b: quadratic(v, A, b),
            x,
            exact,
            f"grad_quadratic (D = {d}, A not symmetric)",
            {
                "A x + b, which holds only for a symmetric A; in general it is ½(A + Aᵀ)x + b": (
                    A @ x + b
                ),
                "Aᵀx + b, which holds only for a symmetric A; in general it is ½(A + Aᵀ)x + b": (
                    A.T @ x + b
                ),
                "½ A x + b: the ½ cancels against the 2 that x appears twice brings; in general "
                "it is ½(A + Aᵀ)x + b": 0.5 * A @ x + b,
                "(A + Aᵀ)x + b: the ½ of the loss is missing; it is ½(A + Aᵀ)x + b": (
                    (A + A.T) @ x + b
                ),
            },
        )


@pytest.mark.task(2)
def test_grad_logistic_loss(learner, rng):
    n, d = 40, 3
    X = rng.normal(size=(n, d)) * np.array([1.0, 3.0, 0.5])
    y = (rng.random(n) < 0.4).astype(float)
    for w in (rng.normal(size=d), np.zeros(d), rng.normal(size=d) * 3):
        p = 1 / (1 + np.exp(-(X @ w)))
        exact = X.T @ (p - y) / n
        got = learner.grad_logistic_loss(w.copy(), X.copy(), y.copy())
        check_gradient(
            got,
            lambda v: logistic_loss(v, X, y),
            w,
            exact,
            "grad_logistic_loss",
            {
                "the sum over samples: the loss is a mean, divide by n": exact * n,
                "a sign error: it is Xᵀ(σ(Xw) − y) / n, not Xᵀ(y − σ(Xw)) / n": -exact,
                "Xᵀ(Xw − y) / n: the prediction is σ(Xw), not Xw": X.T @ (X @ w - y) / n,
                "a division by the number of features D where the number of samples n "
                "belongs": exact * n / d,
            },
        )


@pytest.mark.task(2)
def test_grad_mse(learner, rng):
    n, d = 30, 4
    X = rng.normal(size=(n, d))
    y = rng.normal(size=n)
    w = rng.normal(size=d)
    exact = 2 * X.T @ (X @ w - y) / n
    got = learner.grad_mse(w.copy(), X.copy(), y.copy())
    check_gradient(
        got,
        lambda v: mse_loss(v, X, y),
        w,
        exact,
        "grad_mse",
        {
            "the gradient without the factor 2 that the square brings down": exact / 2,
            "the sum over samples: the loss is a mean, divide by n": exact * n,
            "a sign error: it is 2 Xᵀ(Xw − y) / n": -exact,
        },
    )


# ----- task 3: gradient descent -----------------------------------------------------------------
def ref_descent(X, y, lr, num_steps):
    w = np.zeros(X.shape[1])
    losses = [mse_loss(w, X, y)]
    for _ in range(num_steps):
        w = w - lr * 2 * X.T @ (X @ w - y) / len(y)
        losses.append(mse_loss(w, X, y))
    return w, np.array(losses)


def call_descent(learner, X, y, lr, num_steps, name):
    result = learner.gradient_descent(X.copy(), y.copy(), lr, num_steps)
    w, losses = (np.asarray(r, dtype=float) for r in assert_tuple(result, ("w", "losses"), name))
    if losses.shape == (num_steps,):
        full = ref_descent(X, y, lr, num_steps)[1]
        if np.allclose(losses, full[1:], rtol=1e-9):
            fail(
                f"{name} losses has {num_steps} entries, the losses after each step: "
                f"losses[0] must be the loss at w = 0 ({full[0]:.4g}), so {num_steps + 1} in all"
            )
        if np.allclose(losses, full[:-1], rtol=1e-9):
            fail(
                f"{name} losses has {num_steps} entries: the loss at w = 0 and after "
                f"{num_steps - 1} steps — the loop made num_steps − 1 updates; it must make "
                f"num_steps (range(num_steps))"
            )
    if losses.shape != (num_steps + 1,):
        fail(
            f"{name} losses has shape {losses.shape}; expected ({num_steps + 1},): the loss at "
            "w = 0 and after each of the num_steps steps"
        )
    return w, losses


@pytest.mark.task(3)
def test_gradient_descent_takes_exact_steps(learner, mtcars):
    X, y = mtcars
    name = "gradient_descent(X, y, lr=0.05, num_steps=5)"
    w, losses = call_descent(learner, X, y, 0.05, 5, name)
    want_w, want_losses = ref_descent(X, y, 0.05, 5)
    if losses[-1] > losses[0]:
        fail(
            f"{name}: the loss goes up, from {losses[0]:.4g} to {losses[-1]:.4g}. That is a sign "
            "error in the update: step against the gradient, w ← w − lr · grad"
        )
    assert_array(losses, want_losses, name=f"{name} losses", rtol=1e-9)
    assert_array(
        w,
        want_w,
        name=f"{name} w",
        rtol=1e-9,
        atol=1e-12,
        mistakes={"the weights after 4 steps, not 5": ref_descent(X, y, 0.05, 4)[0]},
    )


@pytest.mark.task(3)
def test_gradient_descent_converges_to_least_squares(learner, mtcars):
    X, y = mtcars
    lr = 0.5 * 2 / np.linalg.eigvalsh(2 * X.T @ X / len(y))[-1]
    name = f"gradient_descent(mtcars, lr={lr:.3g}, num_steps=400)"
    w, losses = call_descent(learner, X, y, lr, 400, name)
    exact = np.linalg.lstsq(X, y, rcond=None)[0]
    assert_array(w, exact, name=f"{name} w (vs np.linalg.lstsq)", rtol=1e-6, atol=1e-8)
    assert_close(losses[-1], mse_loss(exact, X, y), name=f"{name} final loss", rtol=1e-9)


# ----- task 4: the learning-rate limit ----------------------------------------------------------
def ref_limit(X):
    return 2.0 / np.linalg.eigvalsh(2.0 * X.T @ X / X.shape[0])[-1]


@pytest.mark.task(4)
def test_max_stable_learning_rate(learner, mtcars, rng):
    raw = np.column_stack([np.ones(20), rng.normal(size=(20, 2)) * np.array([1.0, 30.0])])
    for X, label in ((mtcars[0], "standardized mtcars"), (raw, "unscaled features")):
        n = X.shape[0]
        values = np.linalg.eigvalsh(2.0 * X.T @ X / n)
        got = learner.max_stable_learning_rate(X.copy())
        want = ref_limit(X)
        name = f"max_stable_learning_rate({label})"
        if got is not None and np.isclose(float(got), 2.0 * want, rtol=1e-9):
            fail(
                f"{name} is {float(got):.4g}, twice the limit {want:.4g}: that is 2 / λ_max of "
                "XᵀX / n, the Hessian without its factor 2 — the Hessian of mean((Xw − y)²) is "
                "(2/n) XᵀX"
            )
        if got is not None and np.isfinite(float(got)):
            y = X @ np.arange(1.0, X.shape[1] + 1)
            losses = ref_descent(X, y, 0.95 * float(got), 300)[1]
            if losses[-1] > losses[0]:
                fail(
                    f"{name} is {float(got):.4g}, but gradient descent at 0.95 × that rate "
                    f"diverges: the loss grows from {losses[0]:.3g} to {losses[-1]:.3g} in 300 "
                    f"steps. The limit is 2 / λ_max of the Hessian (2/n) XᵀX = {want:.4g}"
                )
        assert_close(
            got,
            want,
            name=name,
            rtol=1e-9,
            mistakes={
                "1 / λ_max: a safe rate, but half of the limit 2 / λ_max": 1.0 / values[-1],
                "2 / λ_min: the limit is set by the steepest direction, the largest eigenvalue": 2.0
                / values[0],
            },
        )


@pytest.mark.task(4)
def test_the_limit_separates_convergence_from_divergence(learner, mtcars):
    X, y = mtcars
    limit = float(learner.max_stable_learning_rate(X.copy()))
    below = ref_descent(X, y, 0.98 * limit, 300)[1]
    above = ref_descent(X, y, 1.02 * limit, 300)[1]
    if not below[-1] < below[0]:
        fail(f"at 0.98 × your limit ({0.98 * limit:.4g}) gradient descent does not converge")
    if not above[-1] > above[0]:
        fail(
            f"at 1.02 × your limit ({1.02 * limit:.4g}) gradient descent still converges "
            f"(loss {above[0]:.3g} → {above[-1]:.3g}): the limit is larger than that"
        )
