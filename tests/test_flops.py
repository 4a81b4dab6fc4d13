"""The matmul FLOP counter of the benchmarks, against FLOPs counted by hand."""

import jax
import jax.numpy as jnp
import pytest

from benchmarks.flops import matmul_flops


def test_scan_body_counts_once_per_step():
    def power(x):
        return jax.lax.scan(lambda c, _: (jnp.tanh(c @ c), None), x, None, length=7)[0]

    assert matmul_flops(power, jnp.ones((16, 16))) == 7 * 2 * 16**3


def test_vmapped_gradient_and_cond():
    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w))

    # forward x @ w and the kernel gradient x^T @ delta; no input gradient is needed
    per_seed = 2 * (2 * 32 * 8 * 16)
    grads = jax.jit(jax.vmap(jax.grad(loss)))
    assert matmul_flops(grads, jnp.ones((4, 8, 16)), jnp.ones((4, 32, 8))) == 4 * per_seed

    def either(p, x):
        return jax.lax.cond(p, lambda: x @ x @ x, lambda: x @ x)

    assert matmul_flops(either, True, jnp.ones((8, 8))) == 2 * (2 * 8**3)


def test_while_loop_is_refused():
    def loop(x):
        return jax.lax.while_loop(lambda c: c[0, 0] < 10, lambda c: c @ c, x)

    with pytest.raises(ValueError, match="while loop"):
        matmul_flops(loop, jnp.ones((4, 4)))
