"""The exact fluence solver against independent references: nnls, KKT, voxel-space L-BFGS-B."""

import numpy as np
import pytest
from scipy.optimize import minimize, nnls
from threadpoolctl import threadpool_limits

from tg_radiotherapy.dose import dose_influence
from tg_radiotherapy.dvh import dose_at_volume
from tg_radiotherapy.fluence import FluenceProblem
from tg_radiotherapy.nnqp import nonnegative_qp
from tg_radiotherapy.phantom import STRUCTURES, prostate_phantom

PAPER = dict.fromkeys(STRUCTURES, 100.0)


@pytest.fixture(scope="module")
def problem():
    case = prostate_phantom(8.0)
    return FluenceProblem(case, dose_influence(case, cache=False))


def stacked_least_squares(problem, weights):
    """The objective as one least-squares system ||A x - b||^2, when every term is quadratic."""
    blocks, targets = [], []
    for term in problem.terms:
        if weights[term.name]:
            assert term.quadratic
            s = np.sqrt(weights[term.name] * term.voxel_cc)
            blocks.append(s * term.rows.toarray())
            targets.append(np.full(term.rows.shape[0], s * term.level))
    return np.vstack(blocks), np.concatenate(targets)


@pytest.mark.parametrize("weights", [(100, 100, 100), (100, 10, 300), (1000, 50, 50)])
def test_pure_quadratic_case_agrees_with_nnls(problem, weights):
    w = dict(zip(STRUCTURES, (*weights, 0.0, 0.0), strict=True))  # no overdose terms with a 30 Gy kink
    a, b = stacked_least_squares(problem, w)
    reference, _ = nnls(a, b, maxiter=50 * a.shape[1])
    result = problem.solve(w)
    assert result.objective == pytest.approx(problem.objective(reference, w), rel=1e-9)
    np.testing.assert_allclose(a @ result.optimum, a @ reference, atol=1e-6 * np.abs(b).max())


def test_nonnegative_qp_matches_nnls_on_random_and_singular_problems():
    rng = np.random.default_rng(3)
    for rows, cols in ((40, 25), (15, 30), (60, 60)):  # over-, under-determined (singular H), square
        a = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.4)
        b = rng.normal(size=rows) + a @ np.maximum(rng.normal(size=cols), 0)
        x, _ = nonnegative_qp(a.T @ a, a.T @ b)
        reference, _ = nnls(a, b, maxiter=100 * cols)
        assert np.all(x >= 0)
        assert np.sum((a @ x - b) ** 2) == pytest.approx(np.sum((a @ reference - b) ** 2), rel=1e-9, abs=1e-12)
        # from a warm start (principal pivoting first), including one that is far off
        for start in (x * 1.1 + 0.01, np.ones(cols), rng.random(cols) * (rng.random(cols) < 0.5)):
            warm, _ = nonnegative_qp(a.T @ a, a.T @ b, start=start)
            assert np.sum((a @ warm - b) ** 2) == pytest.approx(np.sum((a @ reference - b) ** 2), rel=1e-9, abs=1e-12)


def test_piecewise_optimum_satisfies_the_kkt_conditions_on_the_voxels(problem):
    result = problem.solve(PAPER)
    x = result.optimum
    _, gradient = problem.objective_and_gradient(x, PAPER)
    scale = np.abs(gradient).max() + np.abs(problem.objective_and_gradient(np.ones_like(x), PAPER)[1]).max()
    assert np.all(np.abs(gradient[x > 0]) <= 1e-7 * scale)
    assert np.all(gradient[x == 0] >= -1e-7 * scale)
    assert (x > 0).sum() > 20 and (x == 0).sum() > 20  # both kinds of beamlets are present


def test_no_worse_than_tightly_converged_voxel_space_lbfgsb(problem):
    weights = dict(zip(STRUCTURES, (300.0, 80.0, 150.0, 100.0, 60.0), strict=True))
    with threadpool_limits(limits=1, user_api="blas"):  # L-BFGS-B's small BLAS calls thrash on a busy machine
        reference = minimize(
            problem.objective_and_gradient, np.zeros(problem.n_beamlets), args=(weights,), jac=True,
            method="L-BFGS-B", bounds=[(0, None)] * problem.n_beamlets,
            options={"maxiter": 50000, "maxfun": 50000, "ftol": 1e-14, "gtol": 1e-12},
        )
    result = problem.solve(weights)
    assert result.objective <= reference.fun * (1 + 1e-9)
    assert result.objective == pytest.approx(reference.fun, rel=1e-6)


def test_plan_is_scaled_so_that_ptv_d95_is_the_prescription(problem):
    result = problem.solve(PAPER)
    ptv = problem.terms[0].rows @ result.x
    assert dose_at_volume(ptv, 95) == pytest.approx(70.2, rel=1e-12)
    assert result.x == pytest.approx(result.optimum * result.scale)


def test_warm_start_reaches_the_same_optimum_with_less_work(problem):
    first = problem.solve(PAPER)
    moved = dict(PAPER, PTV=150.0, rectum=120.0)
    cold = problem.solve(moved)
    warm = problem.solve(moved, warm_start=first.optimum)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-10)
    again = problem.solve(moved, warm_start=warm.optimum)
    assert again.outer_iterations == 1 and again.pivots <= 1
    assert again.objective == pytest.approx(cold.objective, rel=1e-12)


def test_bad_solver_inputs(problem):
    with pytest.raises(ValueError, match="all weights are zero"):
        problem.solve(dict.fromkeys(STRUCTURES, 0.0))
    with pytest.raises(ValueError, match="weights missing for body"):
        problem.solve({s: 1.0 for s in STRUCTURES[:-1]})
    with pytest.raises(ValueError, match="warm_start"):
        problem.solve(PAPER, warm_start=np.ones(3))


def test_only_the_ratios_of_the_weights_matter(problem):
    reference = problem.solve(PAPER)
    for factor in (1e-8, 1e4):  # the smallest and a large scale of the same ratios
        scaled = problem.solve({s: w * factor for s, w in PAPER.items()})
        np.testing.assert_allclose(scaled.x, reference.x, rtol=1e-7, atol=1e-9 * reference.x.max())
        assert scaled.objective == pytest.approx(reference.objective * factor, rel=1e-9)
