"""Checks for p1-linear-algebra: geometry (perpendicular residuals, unit vectors, orthonormal
components) and agreement with numpy.linalg up to sign."""

from __future__ import annotations

import numpy as np
import pytest

from aipath.checks import assert_array, assert_close, assert_tuple, fail, forbid_calls, rdataset

FLOAT = {"rtol": 1e-9, "atol": 1e-10}


@pytest.fixture(scope="module")
def usarrests():
    table = rdataset("datasets", "USArrests")
    X = table[["Murder", "Assault", "UrbanPop", "Rape"]].to_numpy(dtype=float)
    return (X - X.mean(axis=0)) / X.std(axis=0)  # standardized: the four units differ


def correlated_data(rng, n=200, d=5, offset=50.0):
    """Data with a clear spectrum and a mean far from the origin."""
    scales = np.array([5.0, 3.0, 2.0, 1.0, 0.5])[:d]
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return rng.normal(size=(n, d)) * scales @ rotation.T + offset * rng.uniform(0.5, 1.5, d)


def symmetric_with_spectrum(rng, values):
    rotation, _ = np.linalg.qr(rng.normal(size=(len(values), len(values))))
    return rotation @ np.diag(values) @ rotation.T


def align_rows(rows: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Flip the sign of each row of ``rows`` to point the same way as the row of ``to``."""
    rows = np.array(rows, dtype=float, copy=True)
    if rows.shape != to.shape:
        return rows
    signs = np.where(np.sum(rows * to, axis=-1) < 0, -1.0, 1.0)
    return rows * signs[..., None]


# ----- references -------------------------------------------------------------------------------
def ref_project(x, A):
    Q, _ = np.linalg.qr(A)
    return x @ Q @ Q.T


def ref_pca(X, k, *, center=True, ddof=1):
    mean = X.mean(axis=0)
    Xc = X - mean if center else X
    C = Xc.T @ Xc / (X.shape[0] - ddof)
    values, vectors = np.linalg.eigh(C)
    order = np.argsort(values)[::-1]
    return mean, vectors[:, order[:k]].T, values[order[:k]], values, vectors  # eigh's raw output


# ----- task 1: projection -----------------------------------------------------------------------
@pytest.mark.task(1)
def test_project_values(learner, rng):
    for d, k, n in [(3, 1, None), (5, 2, 4), (6, 3, None), (6, 3, 7), (4, 4, 3)]:
        A = rng.normal(size=(d, k)) + 0.5  # not orthonormal
        x = rng.normal(size=(d,) if n is None else (n, d))
        want = ref_project(x, A)
        name = f"project(x of shape {x.shape}, A of shape {A.shape})"
        got = learner.project(x.copy(), A.copy())
        if got is not None and n is not None and np.shape(got) == (d, n) and d != n:
            fail(f"{name} has shape {np.shape(got)}: transposed; return one projection per row")
        mistakes = {
            "x A Aᵀ: that shortcut assumes orthonormal columns (unit length, perpendicular); for "
            "a general basis solve the normal equations (AᵀA) c = Aᵀx": x @ A @ A.T,
            "the residual x − p instead of the projection p": x - want,
        }
        assert_array(got, want, name=name, mistakes=mistakes, **FLOAT)


@pytest.mark.task(1)
def test_project_residual_is_perpendicular(learner, rng):
    A = rng.normal(size=(5, 2)) + 1.0
    x = rng.normal(size=(5,)) * 3
    p = np.asarray(learner.project(x.copy(), A.copy()), dtype=float)
    if p.shape != x.shape:
        fail(f"project(x, A) has shape {p.shape}; expected {x.shape}, the shape of x")
    dots = A.T @ (x - p)
    if np.abs(dots).max() > 1e-9 * np.linalg.norm(x) * np.linalg.norm(A):
        fail(
            f"Aᵀ(x − p) is {np.round(dots, 6)}, not 0: the residual x − project(x, A) is not "
            "perpendicular to the columns of A, so p is not the closest point of the subspace"
        )
    again = learner.project(p.copy(), A.copy())
    assert_array(again, p, name="project(project(x, A), A) (projecting twice changes nothing)")
    inside = A @ np.array([2.0, -1.0])
    assert_array(
        learner.project(inside.copy(), A.copy()),
        inside,
        name="project(A @ c, A) (a vector already in the subspace stays put)",
        **FLOAT,
    )


# ----- task 2: power iteration ------------------------------------------------------------------
def check_eigenpair(result, M, name):
    value, v = assert_tuple(result, ("eigenvalue", "vector"), name)
    v = np.asarray(v, dtype=float)
    if v.shape != (M.shape[0],):
        fail(f"{name} vector has shape {v.shape}; expected ({M.shape[0]},)")
    if not np.isfinite(v).all() or not np.isfinite(float(value)):
        fail(
            f"{name} gives inf/NaN: v grows like λ₁ᵗ and overflowed (λ₁ = "
            f"{np.linalg.eigvalsh(M)[-1]:g}); normalize v after every multiplication"
        )
    norm = np.linalg.norm(v)
    if abs(norm - 1) > 1e-9:
        fail(
            f"{name} vector has length {norm:.6g}: not a unit vector. The direction may be "
            "right, but an eigenvector here must have norm 1 (divide by np.linalg.norm(v))"
        )
    values, vectors = np.linalg.eigh(M)
    top_value, top_vector = values[-1], vectors[:, -1]
    assert_close(
        value,
        float(top_value),
        name=f"{name} eigenvalue",
        rtol=1e-9,
        mistakes={"the smallest eigenvalue": float(values[0])},
    )
    assert_array(
        align_rows(v, top_vector), top_vector, name=f"{name} vector (up to sign)", atol=1e-6
    )


@pytest.mark.task(2)
def test_power_iteration_matches_eigh(learner, rng):
    cases = [
        [10.0, 4.0, 1.0, 0.5, 0.1],
        [1000.0, 300.0, 20.0, 1.0],
        [3.0, 1.0],
        [0.9, 0.2, 0.1, 0.05, 0.01, 0.0],
    ]
    for spectrum in cases:
        M = symmetric_with_spectrum(rng, spectrum)
        name = f"power_iteration(M with eigenvalues {spectrum})"
        check_eigenpair(learner.power_iteration(M.copy()), M, name)


@pytest.mark.task(2)
def test_power_iteration_on_a_covariance_matrix(learner, usarrests):
    M = np.cov(usarrests, rowvar=False)
    check_eigenpair(learner.power_iteration(M.copy()), M, "power_iteration(cov(USArrests))")


@pytest.mark.task(2)
def test_power_iteration_follows_num_iters_and_seed(learner, rng):
    M = symmetric_with_spectrum(rng, [1.0, 0.95, 0.5])  # slow: 5 steps are far from converged
    start = np.random.default_rng(3).normal(size=3)

    def after(steps):
        u = start.copy()
        for _ in range(steps):
            u = M @ u
        return u / np.linalg.norm(u)

    v = after(5)
    _value, got = learner.power_iteration(M.copy(), num_iters=5, tol=0.0, seed=3)
    name = "power_iteration(M, num_iters=5, tol=0.0, seed=3) vector"
    got = np.asarray(got, dtype=float)

    def same(a, b):
        return a.shape == b.shape and np.isfinite(a).all() and np.allclose(align_rows(a, b), b)

    if same(got, v):
        return
    for steps in (4, 6, 0):
        if same(got, after(steps)):
            fail(
                f"{name} is {np.round(got, 6)}: the seeded start vector after {steps} "
                f"multiplications, not 5 — the loop should run exactly num_iters times "
                "(range(num_iters)) when tol=0 never stops it early"
            )
    _value, again = learner.power_iteration(M.copy(), num_iters=5, tol=0.0, seed=3)
    again = np.asarray(again, dtype=float)
    if got.shape == again.shape and not np.allclose(got, again):
        fail(
            f"{name}: two calls with seed=3 gave different vectors ({np.round(got, 6)}, then "
            f"{np.round(again, 6)}): the start vector must come from "
            "np.random.default_rng(seed).normal(size=n), so the same seed gives the same answer"
        )
    fail(
        f"{name} is {np.round(got, 6)}; expected ±{np.round(v, 6)}, the result of exactly 5 "
        "multiplications from the start vector np.random.default_rng(3).normal(size=3). Does "
        "the loop run num_iters times and start from the seeded vector?"
    )


@pytest.mark.task(2)
def test_power_iteration_builds_the_algorithm(learner, learner_file):
    learner.power_iteration(np.eye(2))  # a TODO is "not attempted"
    forbid_calls(
        learner_file,
        {"eig", "eigh", "eigvals", "eigvalsh", "svd"},
        "this task asks you to build power iteration from matrix-vector products, not to call "
        "a decomposition",
        within="power_iteration",
    )


# ----- task 3: PCA fit --------------------------------------------------------------------------
def check_pca_fit(learner, X, k, name):
    result = assert_tuple(
        learner.pca_fit(X.copy(), k), ("mean", "components", "explained_variance"), name
    )
    mean, components, variance = (np.asarray(r, dtype=float) for r in result)
    d = X.shape[1]
    want_mean, want_comp, want_var, all_values, all_vectors = ref_pca(X, k)
    assert_array(mean, want_mean, name=f"{name} mean", **FLOAT)
    if components.shape == (d, k) and d != k:
        fail(
            f"{name} components have shape {components.shape}; expected ({k}, {d}): one "
            "component per row (transpose the eigenvector columns)"
        )
    if components.shape != (k, d):
        fail(f"{name} components have shape {components.shape}; expected ({k}, {d})")
    gram = components @ components.T
    if not np.allclose(gram, np.eye(k), atol=1e-9):
        lengths = np.round(np.linalg.norm(components, axis=1), 6)
        fail(
            f"{name} components are not orthonormal (row lengths {lengths}; components @ "
            "components.T should be the identity): use the unit eigenvectors from eigh as they are"
        )
    _, uncentered, _, _, _ = ref_pca(X, k, center=False)
    mistakes = {
        "the data was not centered: subtract the column means before the covariance": uncentered,
        "eigenvectors read as rows: eigh returns them as the columns, V[:, i]": all_vectors[
            np.argsort(all_values)[::-1][:k]
        ],
        "the smallest eigenvalues' eigenvectors: eigh sorts ascending, take the largest": (
            all_vectors[:, np.argsort(all_values)[:k]].T
        ),
    }
    got = align_rows(components, want_comp)
    mistakes = {label: align_rows(wrong, got) for label, wrong in mistakes.items()}
    assert_array(
        got, want_comp, name=f"{name} components (up to sign)", atol=1e-8, mistakes=mistakes
    )
    n = X.shape[0]
    assert_array(
        variance,
        want_var,
        name=f"{name} explained_variance",
        rtol=1e-9,
        atol=1e-12,
        mistakes={
            "the denominator n instead of n − 1 in the covariance": want_var * (n - 1) / n,
            "a covariance Xcᵀ Xc never divided by n − 1": want_var * (n - 1),
            "eigenvalues in ascending order: put the largest first": np.sort(all_values)[:k],
            "standard deviations instead of variances": np.sqrt(want_var),
        },
    )


@pytest.mark.task(3)
def test_pca_fit_on_usarrests(learner, usarrests):
    check_pca_fit(learner, usarrests, 2, "pca_fit(standardized USArrests, k=2)")
    check_pca_fit(learner, usarrests, 4, "pca_fit(standardized USArrests, k=4)")


@pytest.mark.task(3)
def test_pca_fit_on_offset_data(learner, rng):
    X = correlated_data(rng)
    check_pca_fit(learner, X, 3, "pca_fit(X of shape (200, 5) with a mean far from 0, k=3)")


# ----- task 4: transform and reconstruct --------------------------------------------------------
@pytest.mark.task(4)
def test_pca_transform_and_inverse(learner, rng):
    X = correlated_data(rng, n=30)
    mean, components, *_ = ref_pca(X, 3)
    components = components * np.array([[1.0], [-1.0], [1.0]])  # any sign must work
    scores = learner.pca_transform(X.copy(), mean.copy(), components.copy())
    want = (X - mean) @ components.T
    assert_array(
        scores,
        want,
        name="pca_transform(X, mean, components)",
        mistakes={"X was not centered with mean before projecting": X @ components.T},
        **FLOAT,
    )
    back = learner.pca_inverse_transform(want.copy(), mean.copy(), components.copy())
    assert_array(
        back,
        want @ components + mean,
        name="pca_inverse_transform(scores, mean, components)",
        mistakes={"the mean was not added back": want @ components},
        **FLOAT,
    )


@pytest.mark.task(4)
def test_pca_round_trip_and_reconstruction_error(learner, usarrests, rng):
    for X, label in ((usarrests, "standardized USArrests"), (correlated_data(rng), "offset X")):
        n, d = X.shape
        all_values = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1]
        for k in (1, 2, d):
            mean, components, _ = learner.pca_fit(X.copy(), k)
            scores = learner.pca_transform(X.copy(), mean, components)
            back = np.asarray(learner.pca_inverse_transform(scores, mean, components), dtype=float)
            if back.shape != X.shape:
                fail(
                    f"reconstruction of {label} with k={k} has shape {back.shape}; expected {X.shape}"
                )
            mse = float(((X - back) ** 2).sum(axis=1).mean())
            want = float(all_values[k:].sum() * (n - 1) / n)
            assert_close(
                mse,
                want,
                name=f"mean squared reconstruction error of {label} with k={k} (should equal "
                "the dropped eigenvalues × (n − 1)/n)",
                rtol=1e-7,
                atol=1e-9 * float(all_values.sum()),
            )
