"""The LAPACK-free solves (jaxcurr.core.small_linalg) against NumPy's LAPACK, their gradients
against jax.numpy.linalg's, and no LAPACK custom call in their vmapped programs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.core import small_linalg


@pytest.mark.parametrize("n", [1, 3, 17])
def test_solve_matches_numpy_with_vectors_and_matrices(n):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n)).astype(np.float32)
    a[0, 0] = 0.0  # needs a row swap
    if n == 1:
        a[0, 0] = 0.5
    for b in (rng.normal(size=n), rng.normal(size=(n, 3))):
        b = b.astype(np.float32)
        want = np.linalg.solve(a.astype(np.float64), b.astype(np.float64))
        scale = np.linalg.cond(a.astype(np.float64))
        np.testing.assert_allclose(small_linalg.solve(a, b), want, atol=1e-6 * scale, rtol=0)


def test_solve_gradients_match_jax_linalg():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6)) + 3 * np.eye(6)
    b = rng.normal(size=6)

    def loss(solve):
        return lambda a, b: jnp.sum(jnp.sin(solve(a, b)) * jnp.arange(6.0))

    ours = jax.grad(loss(small_linalg.solve), (0, 1))(a, b)
    theirs = jax.grad(loss(jnp.linalg.solve), (0, 1))(a, b)
    for x, y in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_cholesky_and_forward_substitution_match_numpy():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(5, 5))
    spd = m @ m.T + 0.1 * np.eye(5)
    chol = small_linalg.cholesky(spd)
    np.testing.assert_allclose(chol, np.linalg.cholesky(spd), rtol=1e-4, atol=1e-5)
    b = rng.normal(size=(5, 4))
    np.testing.assert_allclose(small_linalg.solve_lower(chol, b),
                               np.linalg.solve(np.linalg.cholesky(spd), b), rtol=1e-3, atol=1e-4)


def test_vmapped_programs_call_no_lapack_kernel():
    a = jnp.broadcast_to(jnp.eye(4), (8, 4, 4))
    b = jnp.ones((8, 4))
    gradient = jax.grad(lambda a, b: small_linalg.solve(a, b).sum())
    for fn, args in ((small_linalg.solve, (a, b)), (gradient, (a, b)),
                     (small_linalg.cholesky, (a,))):
        assert "custom_call" not in jax.jit(jax.vmap(fn)).lower(*args).as_text()
    assert "custom_call" in jax.jit(jax.vmap(jnp.linalg.solve)).lower(a, b).as_text()
