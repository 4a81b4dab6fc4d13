"""Tests for jaxcurr.transforms.adaptive_entropy (GrAdE) against a NumPy reference."""

from __future__ import annotations

import doctest
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.transforms import (
    GradeState,
    grade,
    grade_coefficient,
    grade_state,
    gradient_magnitude,
    grokfast_ema,
)
from jaxcurr.transforms import adaptive_entropy as grade_module

SHAPES = {"w": (5, 3), "b": (3,), "s": ()}


def random_grads(seed: int, steps: int) -> list[dict[str, np.ndarray]]:
    """Gradients whose scale rises then decays, so the EMA has a peak and r falls below 1."""
    rng = np.random.default_rng(seed)
    rise = steps // 4
    scales = np.concatenate([np.linspace(1.0, 3.0, rise), np.geomspace(3.0, 0.05, steps - rise)])
    return [
        {k: (scales[t] * rng.normal(size=s)).astype(np.float32) for k, s in SHAPES.items()}
        for t in range(steps)
    ]


def stack(seq):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *seq)


class GradeReference:
    """Mirror of the authors' loop: lazily initialised EMA, running max, ratio."""

    def __init__(self, beta, kappa, magnitude):
        self.beta, self.kappa, self.magnitude = beta, kappa, magnitude
        self.ema = self.ema_max = None

    def step(self, grads):
        norms = [np.linalg.norm(np.asarray(g, np.float64).ravel()) for g in grads.values()]
        if self.magnitude == "sum_of_norms":
            mag = sum(norms)
        else:
            mag = math.sqrt(sum(n**2 for n in norms))
        if self.ema is None:
            self.ema = self.ema_max = mag
        else:
            self.ema = self.beta * self.ema + (1 - self.beta) * mag
            self.ema_max = max(self.ema_max, self.ema)
        ratio = self.ema / (self.ema_max + 1e-8)
        return mag, self.ema, self.ema_max, ratio, self.kappa * ratio


def run_loop(tx, seq, params=None):
    params = jax.tree.map(jnp.zeros_like, seq[0]) if params is None else params
    state = tx.init(params)
    update = jax.jit(tx.update)
    states = []
    for grads in seq:
        _, state = update(grads, state, params)
        states.append(state)
    return states


@pytest.mark.parametrize("magnitude", ["sum_of_norms", "global_norm"])
@pytest.mark.parametrize(("beta", "kappa"), [(0.9, 0.02), (0.5, 1.3), (0.0, 0.1)])
def test_matches_numpy_reference(magnitude, beta, kappa):
    seq = random_grads(0, 20)
    ref = GradeReference(beta, kappa, magnitude)
    states = run_loop(grade(beta=beta, kappa=kappa, magnitude=magnitude), seq)
    ratios = []
    for t, (grads, state) in enumerate(zip(seq, states, strict=True)):
        mag, ema, ema_max, ratio, coef = ref.step(grads)
        got = [state.magnitude, state.ema, state.ema_max, state.ratio, grade_coefficient(state)]
        np.testing.assert_allclose(
            np.array(got, np.float64),
            [mag, ema, ema_max, ratio, coef],
            rtol=2e-5,
            err_msg=f"step {t}",
        )
        assert int(state.count) == t + 1
        ratios.append(ratio)
    assert min(ratios) < 0.5  # the sequence really exercises the decay


def test_default_magnitude_is_sum_of_leaf_norms():
    grads = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([[0.0, 12.0]])}
    np.testing.assert_allclose(gradient_magnitude(grads), 5.0 + 12.0)
    np.testing.assert_allclose(gradient_magnitude(grads, "global_norm"), 13.0)
    state = grade().update(grads, grade().init(grads))[1]
    np.testing.assert_allclose(state.magnitude, 17.0)


def test_coefficient_before_and_after_first_update_is_kappa():
    params = {"w": jnp.zeros(3)}
    tx = grade(kappa=0.25)
    state = tx.init(params)
    np.testing.assert_allclose(grade_coefficient(state), 0.25)
    _, state = tx.update({"w": jnp.array([1.0, 2.0, 3.0])}, state)
    np.testing.assert_allclose(grade_coefficient(state), 0.25, rtol=1e-6)
    np.testing.assert_allclose(state.ema, np.sqrt(14.0), rtol=1e-6)  # lazy init: first magnitude
    # kappa can be supplied at read time (SAC's auto-tuned temperature).
    _, state = tx.update({"w": jnp.array([0.0, 0.0, 0.0])}, state)
    np.testing.assert_allclose(grade_coefficient(state, kappa=2.0), 2.0 * 0.9, rtol=1e-6)


def test_identity_on_updates():
    seq = random_grads(1, 3)
    tx = grade()
    state = tx.init(seq[0])
    for grads in seq:
        out, state = tx.update(grads, state)
        assert out is grads


def test_in_chain_with_adam_read_back_by_helper():
    seq = random_grads(2, 8)
    params = jax.tree.map(jnp.zeros_like, seq[0])
    opt = optax.chain(grade(kappa=0.02), grokfast_ema(), optax.adam(1e-3))
    plain = optax.chain(grokfast_ema(), optax.adam(1e-3))
    state, plain_state = opt.init(params), plain.init(params)
    ref = GradeReference(0.9, 0.02, "sum_of_norms")

    @jax.jit
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, grade_coefficient(state)

    for grads in seq:
        new_params, state, coef = step(params, state, grads)
        plain_updates, plain_state = plain.update(grads, plain_state, params)
        # GrAdE does not change what the rest of the chain computes ...
        chex.assert_trees_all_close(new_params, optax.apply_updates(params, plain_updates))
        params = new_params
        # ... and the coefficient read back from the chain state is the reference one.
        np.testing.assert_allclose(coef, ref.step(grads)[-1], rtol=2e-5)
    assert isinstance(grade_state(state), GradeState)
    assert grade_state(state) is state[0]


def test_helper_finds_state_in_nested_wrappers():
    params = {"actor": {"w": jnp.ones(3)}, "critic": {"w": jnp.ones(2)}}
    grads = {"actor": {"w": jnp.full(3, 2.0)}, "critic": {"w": jnp.full(2, 100.0)}}
    opt = optax.multi_transform(
        {
            "actor": optax.chain(optax.inject_hyperparams(grade)(kappa=0.5), optax.adam(1e-3)),
            "critic": optax.adam(1e-3),
        },
        {"actor": "actor", "critic": "critic"},
    )
    state = opt.init(params)
    _, state = opt.update(grads, state, params)
    found = grade_state(state)
    # Only the actor's gradient is measured: ||[2, 2, 2]|| = 2 sqrt(3).
    np.testing.assert_allclose(found.magnitude, 2 * np.sqrt(3), rtol=1e-6)
    np.testing.assert_allclose(grade_coefficient(state), 0.5, rtol=1e-6)

    with pytest.raises(ValueError, match="no GradeState"):
        grade_coefficient(optax.adam(1e-3).init(params))
    two = optax.chain(grade(), grade())
    with pytest.raises(ValueError, match="found 2 GradeState"):
        grade_coefficient(two.init(params))


def test_under_optax_masked_measures_unmasked_leaves_only():
    grads = {"actor": jnp.array([3.0, 4.0]), "critic": jnp.array([100.0])}
    opt = optax.masked(grade(), {"actor": True, "critic": False})
    out, state = opt.update(grads, opt.init(grads))
    assert out["critic"] is grads["critic"] and out["actor"] is grads["actor"]
    np.testing.assert_allclose(grade_state(state).magnitude, 5.0)


def test_jit_scan_vmap_equivalence():
    seqs = [random_grads(seed, 9) for seed in (3, 4)]
    tx = grade(beta=0.8)

    def run_scan(stacked):
        def body(state, grads):
            _, state = tx.update(grads, state)
            return state, state

        init = tx.init(jax.tree.map(lambda x: x[0], stacked))
        return jax.lax.scan(body, init, stacked)[1]

    batched = jax.jit(jax.vmap(run_scan))(stack([stack(s) for s in seqs]))
    for i, seq in enumerate(seqs):
        looped = stack(run_loop(tx, seq))
        chex.assert_trees_all_close(run_scan(stack(seq)), looped, rtol=1e-6)
        chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], batched), looped, rtol=1e-6)


def test_vmap_over_hyperparameters_equals_separate_runs():
    seq = random_grads(5, 10)
    stacked = stack(seq)
    betas = jnp.array([0.0, 0.5, 0.95])
    kappas = jnp.array([0.01, 0.02, 1.0])

    def run(beta, kappa):
        tx = grade(beta=beta, kappa=kappa)

        def body(state, grads):
            _, state = tx.update(grads, state)
            return state, grade_coefficient(state)

        return jax.lax.scan(body, tx.init(seq[0]), stacked)[1]

    swept = jax.jit(jax.vmap(run))(betas, kappas)
    # The same sweep through optax.inject_hyperparams, vmapping the state.
    tx = optax.inject_hyperparams(grade)(beta=0.9, kappa=0.02)

    def init(beta, kappa):
        state = tx.init(seq[0])
        state.hyperparams.update(beta=beta, kappa=kappa)
        return state

    def body(states, grads):
        _, states = jax.vmap(tx.update, in_axes=(None, 0))(grads, states)
        return states, grade_coefficient(states)

    injected = jax.lax.scan(body, jax.vmap(init)(betas, kappas), stacked)[1]
    for i in range(3):
        ref = GradeReference(float(betas[i]), float(kappas[i]), "sum_of_norms")
        expected = [ref.step(g)[-1] for g in seq]
        np.testing.assert_allclose(swept[i], expected, rtol=2e-5)
        np.testing.assert_allclose(injected[:, i], expected, rtol=2e-5)


def test_mixed_dtypes_and_empty_tree():
    grads = {"w": jnp.array([3.0, 4.0], jnp.bfloat16), "b": jnp.array([12.0], jnp.float32)}
    out, state = jax.jit(grade().update)(grads, grade().init(grads))
    assert out["w"].dtype == jnp.bfloat16
    assert state.ema.dtype == jnp.float32 and state.ratio.dtype == jnp.float32
    np.testing.assert_allclose(state.magnitude, 17.0)

    out, state = jax.jit(grade().update)({}, grade().init({}))
    assert out == {}
    assert int(state.count) == 1 and float(state.magnitude) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"beta": 1.0}, r"beta must be in \[0, 1\)"),
        ({"beta": -0.2}, "beta"),
        ({"kappa": -0.01}, r"kappa must be in \[0, inf\]"),
        ({"eps": -1.0}, "eps"),
        ({"magnitude": "l1"}, "magnitude must be one of 'sum_of_norms', 'global_norm'"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grade(**kwargs)


def test_docstring_examples():
    result = doctest.testmod(grade_module, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0
