"""The inner problem: beamlet fluences minimising the paper's weighted objective.

    f(x) = w_PTV sum_{i in PTV} c (D_i - 70.2)^2
         + sum_s w_s sum_{i in s} c max(D_i - d_s, 0)^2,      D = K x,  x >= 0

with overdose levels d_s of 0 Gy for bladder and rectum and 30 Gy for the
femoral heads and the body. Each voxel counts with its volume c in cc, so
the sums are dose-squared volume integrals that do not depend on the grid.
Where an organ overlaps the PTV the PTV wins: organ and body terms cover
their voxels outside the PTV, as clinical optimisation structures do.

Why not L-BFGS-B on the voxels: each evaluation passes over the whole
matrix, hundreds are needed, and a warm start barely helps. The objective is
piecewise quadratic in x, which allows an exact active-set method in
beamlet space:

* terms that are quadratic everywhere (the PTV, and organs with d_s = 0,
  since doses are never negative) are folded into Gram matrices K_s^T K_s
  over the beamlets once per case, independent of the weights;
* an overdose term is quadratic on its voxels above the level (its active
  rows); their Gram matrix is kept between solves and updated with only the
  rows that enter or leave;
* each outer iteration solves the quadratic model of the current active
  rows exactly under x >= 0 (``nnqp``), then moves towards that solution
  with an exact line search on the true objective. When the model's solution
  reproduces the active rows it was built on, it satisfies the KKT
  conditions of f itself: the result is the exact minimiser, not an
  approximation stopped by a tolerance.

A warm start from the previous weights' solution needs a few outer
iterations with a few pivots each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas
from scipy.optimize import brentq, minimize
from threadpoolctl import threadpool_limits

from .dvh import dose_at_volume
from .nnqp import nonnegative_qp
from .phantom import STRUCTURES, Case

log = logging.getLogger(__name__)

PRESCRIPTION_GY = 70.2
OVERDOSE_LEVELS_GY = {"bladder": 0.0, "rectum": 0.0, "femoral heads": 30.0, "body": 30.0}


class SolverError(RuntimeError):
    """The fluence optimization did not converge."""


@dataclass(frozen=True)
class Term:
    """One structure's part of the objective: its rows of K, dose level and voxel volume."""

    name: str
    rows: sp.csr_matrix
    level: float
    two_sided: bool
    voxel_cc: float

    @property
    def quadratic(self) -> bool:
        """True when the term is one quadratic everywhere: no kink the dose can cross."""
        return self.two_sided or self.level <= 0.0

    def residual(self, dose: np.ndarray) -> np.ndarray:
        excess = dose - self.level
        return excess if self.two_sided else np.maximum(excess, 0.0)


@dataclass
class FluenceResult:
    """The solution for one weight setting.

    ``x`` is scaled so that the PTV D95 equals the prescription; ``optimum``
    is the unscaled minimiser of f (the warm start for the next weights) and
    ``objective`` its value.
    """

    x: np.ndarray
    optimum: np.ndarray
    scale: float
    objective: float
    outer_iterations: int
    pivots: int


def _gram_change(rows: sp.csr_matrix, before: np.ndarray, after: np.ndarray):
    """The change of K_A^T K_A (sparse, beamlets x beamlets) and of K_A^T 1 when the active
    rows go from ``before`` to ``after``; None when nothing changes.

    Rows entering count +1 and rows leaving -1. The product stays sparse: a
    voxel row touches about a hundred beamlets, so this costs far less than one
    pass over a dense beamlet-by-beamlet matrix.
    """
    changed = np.flatnonzero(before != after)
    if changed.size == 0:
        return None
    k = rows[changed]
    signs = np.where(after[changed], 1.0, -1.0)
    signed = k.copy()
    signed.data *= np.repeat(signs, np.diff(k.indptr))
    return k.T.tocsr() @ signed, k.T @ signs


def _add_sparse(change: sp.csr_matrix, *targets: tuple[np.ndarray, float]) -> None:
    """total += factor * change in place for each (total, factor): by coordinates when the
    change is small, else densely (expanded once for all targets)."""
    n = change.shape[1]
    if change.nnz * 8 > n * n:  # scattering that many coordinates is slower than a dense pass
        dense = change.toarray()
        for total, factor in targets:
            _accumulate(total, dense, factor)
    else:
        flat = np.repeat(np.arange(n) * n, np.diff(change.indptr)) + change.indices
        for total, factor in targets:
            total.ravel()[flat] += factor * change.data


class _ActiveRows:
    """The rows of an overdose term above its level, with their Gram matrix and column sums.

    Kept between solves: the next weights' solution has nearly the same
    active rows, so only the rows that change are multiplied out.
    """

    def __init__(self, rows: sp.csr_matrix) -> None:
        self.rows = rows
        n = rows.shape[1]
        self.mask = np.zeros(rows.shape[0], dtype=bool)
        self.gram = np.zeros((n, n))
        self.column_sums = np.zeros(n)

    def follow(self, now: np.ndarray, hessian: np.ndarray | None = None, factor: float = 0.0):
        """Make ``now`` the active rows; a given Hessian takes the change times ``factor`` too.

        Returns the change of the column sums, or None when no row changes.
        """
        change = _gram_change(self.rows, self.mask, now)
        self.mask = now.copy()
        if change is None:
            return None
        _add_sparse(change[0], (self.gram, 1.0), *([] if hessian is None else [(hessian, factor)]))
        self.column_sums += change[1]
        return change[1]


def _reproduces(term: Term, assumed: np.ndarray, dose: np.ndarray) -> bool:
    """True when the dose keeps the active rows the model assumed (up to round-off)."""
    tol = 1e-9 * max(term.level, 1.0)
    return not (np.any(assumed & (dose < term.level - tol)) or np.any(~assumed & (dose > term.level + tol)))


def _gram(rows: sp.csr_matrix) -> np.ndarray:
    """K^T K of some rows, dense (beamlets x beamlets, C order).

    With scatter a row reaches hundreds of beamlets: the sparse product then
    costs the sum of each row's nonzeros squared and is several times slower
    than a dense BLAS product of the expanded rows.
    """
    n = rows.shape[1]
    if rows.nnz > 0.05 * rows.shape[0] * n:
        with threadpool_limits(limits=1, user_api="blas"):
            dense = rows.toarray()
            return np.ascontiguousarray(dense.T @ dense)
    return (rows.T.tocsr() @ rows).toarray()


def _accumulate(total: np.ndarray, matrix: np.ndarray, factor: float) -> None:
    """total += factor * matrix in place, without a temporary as large as the matrix (both C-ordered)."""
    blas.daxpy(matrix.ravel(), total.ravel(), a=factor)


class FluenceProblem:
    """The objective on one case and dose-influence matrix, solved for many weight settings.

    Solves are serialised by a lock because the cached active rows are shared.
    """

    def __init__(
        self,
        case: Case,
        matrix: sp.csr_matrix,
        prescription: float = PRESCRIPTION_GY,
        overdose_levels: Mapping[str, float] | None = None,
    ) -> None:
        levels = dict(OVERDOSE_LEVELS_GY if overdose_levels is None else overdose_levels)
        self.case = case
        self.matrix = matrix.tocsr()
        self.prescription = float(prescription)
        ptv = case.masks["PTV"].ravel()
        cc = case.voxel_cc
        self.terms = [Term("PTV", self.matrix[np.flatnonzero(ptv)], self.prescription, True, cc)]
        for name in STRUCTURES[1:]:
            rows = self.matrix[np.flatnonzero(case.masks[name].ravel() & ~ptv)]
            self.terms.append(Term(name, rows, float(levels[name]), False, cc))
        # C order, as every dense matrix here: the in-place sums treat them as flat vectors
        self._gram = {t.name: _gram(t.rows) * cc for t in self.terms if t.quadratic}
        self._sums = {t.name: np.asarray(t.rows.sum(axis=0)).ravel() * cc for t in self.terms if t.quadratic}
        self._active = {t.name: _ActiveRows(t.rows) for t in self.terms if not t.quadratic}
        self._lock = threading.Lock()

    @property
    def n_beamlets(self) -> int:
        return self.matrix.shape[1]

    def _weights(self, weights: Mapping[str, float]) -> dict[str, float]:
        missing = [t.name for t in self.terms if t.name not in weights]
        if missing:
            raise ValueError(f"weights missing for {', '.join(missing)}")
        w = {t.name: float(weights[t.name]) for t in self.terms}
        if not any(w.values()):
            raise ValueError("all weights are zero: the objective is empty")
        return w

    # -------------------------------------------------------------- the objective on the voxels

    def objective(self, x: np.ndarray, weights: Mapping[str, float]) -> float:
        """f(x), computed directly on the voxels: the definition every solver must agree with."""
        w = self._weights(weights)
        total = 0.0
        for t in self.terms:
            if w[t.name]:
                r = t.residual(t.rows @ x)
                total += w[t.name] * t.voxel_cc * float(r @ r)
        return total

    def objective_and_gradient(self, x: np.ndarray, weights: Mapping[str, float]) -> tuple[float, np.ndarray]:
        """f(x) and its gradient on the voxels, as a plain voxel-space optimizer would use them."""
        w = self._weights(weights)
        total, gradient = 0.0, np.zeros(self.n_beamlets)
        for t in self.terms:
            if w[t.name]:
                r = t.residual(t.rows @ x)
                factor = w[t.name] * t.voxel_cc
                total += factor * float(r @ r)
                gradient += 2.0 * factor * (t.rows.T @ r)
        return total, gradient

    # -------------------------------------------------------------- the exact solver

    def solve(
        self, weights: Mapping[str, float], warm_start: np.ndarray | None = None, max_outer: int = 200
    ) -> FluenceResult:
        """The exact minimiser of f for these weights, then scaled to PTV D95 = prescription."""
        w = self._weights(weights)
        if warm_start is not None:
            warm_start = np.maximum(np.asarray(warm_start, dtype=float), 0.0)
            if warm_start.shape != (self.n_beamlets,) or not np.all(np.isfinite(warm_start)):
                raise ValueError(f"warm_start must be {self.n_beamlets} finite fluences")
        # The dense algebra here is many small factorisations (a few hundred rows): a second BLAS
        # thread gains little on them, and on a busy machine its spinning makes them 10-40x slower.
        # only the ratios matter: solving with the largest weight at 1 keeps every weight set in
        # the same numeric range (the minimiser is the same)
        largest = max(w.values())
        relative = {name: value / largest for name, value in w.items()}
        with self._lock, threadpool_limits(limits=1, user_api="blas"):
            x = self._rough_start(relative) if warm_start is None else warm_start
            x, doses, outer, pivots = self._minimise(relative, x, max_outer)
        objective = sum(
            w[t.name] * t.voxel_cc * float(t.residual(doses[t.name]) @ t.residual(doses[t.name]))
            for t in self.terms
            if w[t.name]
        )
        d95 = dose_at_volume(doses["PTV"], 95.0)
        if d95 <= 0:
            raise SolverError("the optimal plan gives the PTV no dose; raise the PTV weight")
        scale = self.prescription / d95
        log.debug("fluence: %d outer iterations, %d pivots, objective %.6g", outer, pivots, objective)
        return FluenceResult(x * scale, x, scale, objective, outer, pivots)

    def _rough_start(self, w: dict[str, float]) -> np.ndarray:
        """A cold start: a loose L-BFGS-B solve in beamlet space, for the exact method to finish.

        Far from the solution the active rows change wholesale and an
        active-set method would rebuild its model many times; a quasi-Newton
        method gets close cheaply. It only needs to be close, so an overdose
        term keeps just the rows that get a third of its level from the
        uniform start (about a quarter of the body, holding every row above
        the level at the optima of the phantom); the exact method then checks
        all rows.
        """
        ptv_mean = float(np.asarray(self.terms[0].rows.sum(axis=1)).mean())
        start = np.full(self.n_beamlets, self.prescription / ptv_mean)
        parts = []
        for t in self.terms:
            if w[t.name]:
                rows = t.rows if t.quadratic else t.rows[t.rows @ start > t.level / 3]
                parts.append((t, rows, rows.T.tocsr(), w[t.name] * t.voxel_cc))

        def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = 0.0, np.zeros(self.n_beamlets)
            for t, rows, transposed, factor in parts:
                r = t.residual(rows @ x)
                value += factor * float(r @ r)
                gradient += 2.0 * factor * (transposed @ r)
            return value, gradient

        result = minimize(
            value_and_gradient, start, jac=True, method="L-BFGS-B",
            bounds=[(0.0, None)] * self.n_beamlets, options={"ftol": 1e-3, "maxiter": 2000},
        )
        return result.x

    def _minimise(self, w: dict[str, float], x: np.ndarray, max_outer: int):
        terms = [t for t in self.terms if w[t.name]]
        kinked = [t for t in terms if not t.quadratic]
        doses = {t.name: t.rows @ x for t in self.terms}
        for t in kinked:
            self._active[t.name].follow(doses[t.name] > t.level)
        hessian = np.empty((self.n_beamlets, self.n_beamlets))
        linear = np.zeros(self.n_beamlets)
        for i, t in enumerate(terms):
            if t.quadratic:
                factor, gram, sums = w[t.name], self._gram[t.name], self._sums[t.name]
            else:
                active = self._active[t.name]
                factor, gram, sums = w[t.name] * t.voxel_cc, active.gram, active.column_sums
            if i == 0:
                np.multiply(gram, factor, out=hessian)
            else:
                _accumulate(hessian, gram, factor)
            linear += factor * t.level * sums
        pivots, guess = 0, x
        for outer in range(1, max_outer + 1):
            # the last model's solution predicts the positive beamlets better than x, which
            # after a partial step is positive wherever either of them was
            model_rows = {t.name: self._active[t.name].mask for t in kinked}
            target, used = nonnegative_qp(hessian, linear, start=guess)
            guess = target
            pivots += used
            target_doses = {t.name: t.rows @ target for t in terms}
            if all(_reproduces(t, model_rows[t.name], target_doses[t.name]) for t in kinked):
                return target, {**doses, **target_doses}, outer, pivots
            alpha = self._line_search(w, terms, doses, target_doses)
            if alpha == 0.0:  # the model cannot improve on x: x already satisfies the KKT conditions
                return x, doses, outer, pivots
            x = x + alpha * (target - x)
            for t in terms:
                doses[t.name] = doses[t.name] + alpha * (target_doses[t.name] - doses[t.name])
            for t in kinked:  # the model follows the active rows of the new point
                factor = w[t.name] * t.voxel_cc
                sums = self._active[t.name].follow(doses[t.name] > t.level, hessian, factor)
                if sums is not None:
                    linear += factor * t.level * sums
        raise SolverError(f"fluence optimization did not converge in {max_outer} outer iterations")

    @staticmethod
    def _line_search(w, terms, doses, target_doses) -> float:
        """The exact minimiser over [0, 1] of the convex piecewise quadratic f on the segment."""
        parts = []
        for t in terms:
            start, change = doses[t.name], target_doses[t.name] - doses[t.name]
            if not t.two_sided:
                reach = np.maximum(start, start + change) > t.level
                start, change = start[reach], change[reach]
            parts.append((t, w[t.name] * t.voxel_cc, start - t.level, change))

        def slope(a: float) -> float:  # half of d/da f, non-decreasing in a
            total = 0.0
            for t, factor, excess, change in parts:
                moved = excess + a * change
                total += factor * float(change @ (moved if t.two_sided else np.maximum(moved, 0.0)))
            return total

        value = sum(factor * float(r @ r) for t, factor, excess, _ in parts for r in [t.residual(excess + t.level)])
        if slope(0.0) >= -1e-13 * value:
            return 0.0
        if slope(1.0) <= 0.0:
            return 1.0
        return brentq(slope, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
