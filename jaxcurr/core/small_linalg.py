"""Dense linear algebra for small matrices in plain ``jnp``, without LAPACK.

jaxlib 0.10's batched CPU LAPACK kernels (``getrf``, ``potrf``, ``geqrf`` under ``vmap`` or
with batch dimensions) split their batch over XLA's intra-op thread pool and wait for it, so as
many of them running at once as the pool has threads (vmapped seeds on 2 cores) deadlock. The
tabular students' value solves and ALP-GMM's densities use these instead; ``vmap`` turns their
loops into batched element-wise work with no custom call.

* :func:`solve`: ``A x = b`` by LU with partial pivoting (Doolittle), differentiable in ``A``
  and ``b`` through ``lax.custom_linear_solve`` (``dx = A^{-1} (db - dA x)``), as
  ``jnp.linalg.solve`` is;
* :func:`cholesky`: ``A = L L^T`` (Cholesky-Banachiewicz) for symmetric positive definite ``A``;
* :func:`solve_lower`: ``L y = b`` for lower-triangular ``L`` (forward substitution).
"""

import jax
import jax.numpy as jnp
from jax import lax


def _lu(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``P A = L U`` packed in one matrix (``L`` unit lower, below the diagonal) and the row
    permutation ``perm`` (``A[perm] = L U``). Pivot: the largest ``|a_ik|`` on or below row k."""
    n = a.shape[-1]
    rows = jnp.arange(n)

    def column(k, carry):
        lu, perm = carry
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(lu[:, k]), -1.0))
        swap = jnp.where(rows == k, p, jnp.where(rows == p, k, rows))
        lu, perm = lu[swap], perm[swap]
        later = rows > k  # rows below k; as columns, right of k
        factors = jnp.where(later, lu[:, k] / lu[k, k], 0.0)
        lu = lu - jnp.outer(factors, jnp.where(later, lu[k], 0.0))
        return lu.at[:, k].set(jnp.where(later, factors, lu[:, k])), perm

    return lax.fori_loop(0, n, column, (a, rows))


def _substitute(m: jax.Array, b: jax.Array, lower: bool, unit: bool) -> jax.Array:
    """``T y = b`` for the triangle of ``m`` (``lower`` or upper, ``unit`` diagonal or ``m``'s);
    ``b`` is ``[n]`` or ``[n, k]``."""
    n = m.shape[-1]
    cols = jnp.arange(n)

    def row(step, y):
        i = step if lower else n - 1 - step
        known = (cols < i) if lower else (cols > i)
        rest = jnp.tensordot(jnp.where(known, m[i], 0.0), y, axes=1)
        diag = 1.0 if unit else m[i, i]
        return y.at[i].set((b[i] - rest) / diag)

    return lax.fori_loop(0, n, row, jnp.zeros_like(b))


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
    """``x`` with ``A x = b`` for a square, nonsingular ``a [n, n]`` and ``b [n]`` or ``[n, k]``."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    lu, perm = _lu(lax.stop_gradient(a))

    def forward(_, rhs):  # A x = rhs:  L U x = rhs[perm]
        return _substitute(lu, _substitute(lu, rhs[perm], True, True), False, False)

    def transposed(_, rhs):  # A^T x = rhs:  U^T L^T (P x) = rhs
        y = _substitute(lu.T, _substitute(lu.T, rhs, True, False), False, True)
        return jnp.zeros_like(y).at[perm].set(y)

    return lax.custom_linear_solve(lambda x: jnp.tensordot(a, x, axes=1), b, forward,
                                   transposed)


def cholesky(a: jax.Array) -> jax.Array:
    """Lower-triangular ``L`` with ``L L^T = a`` for a symmetric positive definite ``a [n, n]``."""
    a = jnp.asarray(a)
    n = a.shape[-1]
    idx = jnp.arange(n)

    def column(j, chol):
        known = jnp.where(idx < j, chol[j], 0.0)  # row j of L, left of the diagonal
        d = jnp.sqrt(a[j, j] - known @ known)
        col = (a[:, j] - chol @ known) / d
        return chol.at[:, j].set(jnp.where(idx > j, col, jnp.where(idx == j, d, 0.0)))

    return lax.fori_loop(0, n, column, jnp.zeros_like(a))


def solve_lower(chol: jax.Array, b: jax.Array) -> jax.Array:
    """``y`` with ``L y = b`` for lower-triangular ``chol [n, n]``, ``b [n]`` or ``[n, k]``."""
    return _substitute(jnp.asarray(chol), jnp.asarray(b), True, False)
