"""Policy-gradient optimizers: formulas against NumPy, learning on the bandit, vmapped sweeps."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.envs.tabular_mdp import load_tabular_mdp
from jaxcurr.students.tabular import optimizers as pgo
from jaxcurr.students.tabular import policy_gradient as tpg
from jaxcurr.transforms.negative_momentum import heavy_ball, scale_by_heavy_ball

BANDIT_R = np.array([1.0, 0.99, 0.0])


def np_value(w):
    p = np.exp(w - w.max())
    p /= p.sum()
    return p @ BANDIT_R


def np_grad(w):
    p = np.exp(w - w.max())
    p /= p.sum()
    return p * (BANDIT_R - p @ BANDIT_R)


def jax_value(w):
    return jax.nn.softmax(w) @ jnp.asarray(BANDIT_R, w.dtype)


def exact(w, key):
    return jax.grad(jax_value)(w)


def run_steps(opt, w0, steps, grad_fn=exact, value_fn=jax_value, seed=0):
    def body(state, k):
        state, info = opt.step(state, k, grad_fn, value_fn)
        return state, (state.params, info.committed)

    return jax.lax.scan(body, opt.init(w0), jax.random.split(jax.random.key(seed), steps))


@pytest.mark.parametrize("form", ["polyak", "lookahead"])
@pytest.mark.parametrize("beta", [0.5, -0.4])
def test_heavy_ball_transform_matches_numpy(form, beta):
    grads = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    tx = scale_by_heavy_ball(beta, form)
    state = tx.init(jnp.zeros(3))
    m = np.zeros(3)
    for g in grads:
        u, state = tx.update(jnp.asarray(g), state)
        m = g + beta * m
        np.testing.assert_allclose(u, m if form == "polyak" else g + beta * m, rtol=1e-5)
    # heavy_ball = the trace, then -learning_rate.
    u, _ = heavy_ball(0.1, beta, form).update(jnp.ones(3), heavy_ball(0.1, beta, form).init(
        jnp.zeros(3)))
    np.testing.assert_allclose(u, -0.1 * np.ones(3) * (1 if form == "polyak" else 1 + beta))


def test_pg_hb_lookahead_and_polyak_forms_match_numpy():
    eta, beta, w0 = 0.4, 0.5, np.array([1.0, 3.0, 5.0])
    _, (ws, _) = run_steps(pgo.pg_heavy_ball(eta, beta, "lookahead"), jnp.asarray(w0), 15)
    omega, theta_prev = w0.copy(), w0.copy()
    for t in range(15):  # theta = omega + eta g(omega); omega = theta + beta (theta - theta_prev)
        theta = omega + eta * np_grad(omega)
        omega, theta_prev = theta + beta * (theta - theta_prev), theta
        np.testing.assert_allclose(ws[t], omega, rtol=1e-4, atol=1e-5)
    _, (ws, _) = run_steps(pgo.pg_heavy_ball(eta, -0.3, "polyak"), jnp.asarray(w0), 15)
    x, x_prev = w0.copy(), w0.copy()
    for t in range(15):  # x+ = x + eta g(x) - 0.3 (x - x_prev)
        x, x_prev = x + eta * np_grad(x) - 0.3 * (x - x_prev), x
        np.testing.assert_allclose(ws[t], x, rtol=1e-4, atol=1e-5)


def test_apg_matches_reference_recurrence():
    eta, w0 = 0.4, np.array([1.0, 3.0, 5.0])
    _, (ws, committed) = run_steps(pgo.apg(eta), jnp.asarray(w0), 30)
    omega, theta_prev, commits = w0.copy(), w0.copy(), []
    for t in range(30):
        theta = omega + 0.5 * (t + 1) / (t + 2) * eta * np_grad(omega)
        phi = theta + t / (t + 3) * (theta - theta_prev)
        keep = np_value(phi) >= np_value(theta_prev)
        omega, theta_prev = (phi if keep else theta), theta
        commits.append(keep)
        np.testing.assert_allclose(ws[t], omega, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(committed, commits)


@pytest.mark.parametrize("phi_form", ["literal", "normalized"])
@pytest.mark.parametrize("commit", ["previous", "current"])
def test_spg_nm_matches_reference_recurrence(phi_form, commit):
    eta, lam, w0 = 0.4, 50.0, np.array([0.3, -0.2, 0.1])
    _, (ws, committed) = run_steps(pgo.spg_nm(eta, lam, phi_form, commit), jnp.asarray(w0), 6)
    omega, theta_prev = w0.copy(), w0.copy()
    for t in range(6):
        theta = omega + eta * np_grad(omega)
        phi = lam * theta + (1 - lam) * (theta - theta_prev)
        if phi_form == "normalized":
            phi = phi / lam
        ref = theta_prev if commit == "previous" else theta
        keep = np_value(phi) >= np_value(ref)
        omega, theta_prev = (phi if keep else theta), theta
        assert bool(committed[t]) == keep
        np.testing.assert_allclose(ws[t], omega, rtol=1e-4, atol=1e-4)


OPTIMIZERS = {
    "pg": lambda: pgo.pg(0.4),
    "pg_hb": lambda: pgo.pg_heavy_ball(0.4),
    "pg_hb_negative": lambda: pgo.pg_heavy_ball(0.4, beta=-0.3, form="polyak"),
    "apg": lambda: pgo.apg(0.4),
    "pg_adam": lambda: pgo.pg_adam(0.4),
    "spg_nm": lambda: pgo.spg_nm(0.4, 1e3),
    "spg_nm_normalized": lambda: pgo.spg_nm(0.4, 1e3, phi="normalized"),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("task", ["bandit_uniform", "bandit_hard"])
def test_each_optimizer_reduces_the_gap_on_the_bandit(name, task):
    mdp = load_tabular_mdp(task)
    v_star = tpg.optimal_value(mdp)
    opt = OPTIMIZERS[name]()
    value_fn = lambda w: tpg.value(mdp, w)
    start = float(v_star - value_fn(mdp.initial_logits))

    def final_gap(grad_fn, key):
        def body(state, k):
            return opt.step(state, k, grad_fn, value_fn)[0], None

        state, _ = jax.lax.scan(body, opt.init(mdp.initial_logits), jax.random.split(key, 300))
        return v_star - value_fn(state.params)

    gap = float(final_gap(lambda w, k: tpg.exact_gradient(mdp, w), jax.random.key(0)))
    assert gap < 0.1 * start, (gap, start)
    # Stochastic gradients (one sampled (s, a) per step), exact value for the tests; 8 seeds.
    keys = jax.random.split(jax.random.key(1), 8)
    gaps = jax.jit(jax.vmap(lambda k: final_gap(
        lambda w, kk: tpg.sampled_gradient(mdp, w, kk), k)))(keys)
    assert float(gaps.mean()) < 0.5 * start, (gaps, start)


def test_lambda_sweep_is_one_compiled_program():
    mdp = load_tabular_mdp("bandit_uniform")
    v_star = tpg.optimal_value(mdp)
    value_fn = lambda w: tpg.value(mdp, w)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def sweep(lams, keys):
        def one(lam, key):
            opt = pgo.spg_nm(0.4, lam, phi="normalized")

            def body(state, k):
                state, _ = opt.step(state, k, lambda w, kk: tpg.sampled_gradient(mdp, w, kk),
                                    value_fn)
                return state, v_star - value_fn(state.params)

            return jax.lax.scan(body, opt.init(mdp.initial_logits), jax.random.split(key, 50))[1]

        return jax.vmap(jax.vmap(one, (None, 0)), (0, None))(lams, keys)

    keys = jax.random.split(jax.random.key(0), 3)
    lams = jnp.array([1e2, 1e3, 1e4, 1e5, 1e6])
    gaps = sweep(lams, keys)
    assert gaps.shape == (5, 3, 50)
    gaps2 = sweep(lams * 2.0, keys)  # new values, same shapes: no second trace
    assert gaps2.shape == (5, 3, 50)
    # Each (lambda, seed) cell equals the run with that lambda alone.
    opt = pgo.spg_nm(0.4, 1e4, phi="normalized")

    def body(state, k):
        state, _ = opt.step(state, k, lambda w, kk: tpg.sampled_gradient(mdp, w, kk), value_fn)
        return state, v_star - value_fn(state.params)

    alone = jax.lax.scan(body, opt.init(mdp.initial_logits), jax.random.split(keys[1], 50))[1]
    np.testing.assert_allclose(gaps[2, 1], alone, atol=1e-5)
    chex.clear_trace_counter()


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match=r"learning_rate must be in \(0, inf\]"):
        pgo.pg(-0.1)
    for name in pgo.PG_OPTIMIZERS:
        with pytest.raises(ValueError, match="learning_rate"):
            pgo.make_pg_optimizer(name, -1.0)
    with pytest.raises(ValueError, match=r"lam must be in \(1, inf\]"):
        pgo.spg_nm(0.4, lam=1.0)
    with pytest.raises(ValueError, match="lam"):
        pgo.spg_nm(0.4, lam=0.5)
    with pytest.raises(ValueError, match="name must be one of 'pg'"):
        pgo.make_pg_optimizer("sgd", 0.1)
    with pytest.raises(ValueError, match="phi must be one of"):
        pgo.spg_nm(0.4, phi="scaled")
    with pytest.raises(ValueError, match="commit must be one of"):
        pgo.spg_nm(0.4, commit="never")
    with pytest.raises(ValueError, match="restart must be one of"):
        pgo.apg(0.4, restart="sometimes")
    with pytest.raises(ValueError, match=r"beta must be in \(-1, 1\)"):
        pgo.pg_heavy_ball(0.4, beta=1.0)
    with pytest.raises(ValueError, match="form must be one of"):
        scale_by_heavy_ball(0.5, form="nesterov")
    with pytest.raises(ValueError, match="options for 'pg'"):
        pgo.make_pg_optimizer("pg", 0.1, beta=0.5)


def test_from_optax_ascends_with_any_transform():
    opt = pgo.from_optax(optax.sgd(0.4))
    _, (ws, _) = run_steps(opt, jnp.zeros(3), 200)
    assert np_value(np.asarray(ws[-1])) > np_value(np.zeros(3)) + 0.2
