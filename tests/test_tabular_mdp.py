"""Tabular MDPs: task data, gymnax environment, exact and sampled policy-gradient quantities."""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.envs.tabular_mdp import (
    TabularMDPEnv,
    load_tabular_mdp,
    make_tabular_mdp,
    register_gymnax,
    task_names,
)
from jaxcurr.students.tabular import policy_gradient as tpg

TASKS = ("bandit_uniform", "bandit_hard", "mdp_5s5a_uniform", "mdp_5s5a_hard")


def random_logits(mdp, seed, scale=1.0):
    return mdp.initial_logits + scale * jax.random.normal(jax.random.key(seed),
                                                          mdp.initial_logits.shape)


def test_tasks_ship_with_the_package():
    assert set(task_names()) == set(TASKS)
    bandit = load_tabular_mdp("bandit_hard")
    assert bandit.transition.shape == (1, 3, 1) and float(bandit.gamma) == 0.0
    np.testing.assert_allclose(bandit.initial_logits, [[1.0, 3.0, 5.0]])
    mdp = load_tabular_mdp("mdp_5s5a_uniform")
    assert (mdp.num_states, mdp.num_actions) == (5, 5)
    np.testing.assert_allclose(mdp.transition.sum(-1), 1.0, atol=1e-6)
    assert float(mdp.gamma) == pytest.approx(0.9)


def test_bad_inputs_raise_value_errors_naming_the_argument():
    with pytest.raises(ValueError, match="name must be one of 'bandit_uniform'"):
        load_tabular_mdp("cartpole")
    ok = dict(reward=[[1.0, 0.0]], transition=[[[1.0], [1.0]]], rho=[1.0], gamma=0.5)
    make_tabular_mdp(**ok)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
        make_tabular_mdp(**{**ok, "gamma": 1.0})
    with pytest.raises(ValueError, match="transition must hold probabilities"):
        make_tabular_mdp(**{**ok, "transition": [[[0.5], [1.0]]]})
    with pytest.raises(ValueError, match="transition must have shape"):
        make_tabular_mdp(**{**ok, "transition": [[1.0, 1.0]]})
    with pytest.raises(ValueError, match="rho must be a probability vector"):
        make_tabular_mdp(**{**ok, "rho": [0.5]})
    with pytest.raises(ValueError, match="batch_size"):
        tpg.sampled_gradient(load_tabular_mdp("bandit_uniform"), jnp.zeros((1, 3)),
                             jax.random.key(0), batch_size=0)
    with pytest.raises(ValueError, match="max_steps_in_episode"):
        TabularMDPEnv("bandit_uniform", max_steps_in_episode=0)


@pytest.mark.parametrize("task", TASKS)
def test_exact_gradient_equals_autodiff_of_exact_value(task):
    mdp = load_tabular_mdp(task)
    for seed in range(3):
        logits = random_logits(mdp, seed)
        auto = jax.grad(lambda w: tpg.value(mdp, w))(logits)
        np.testing.assert_allclose(tpg.exact_gradient(mdp, logits), auto, atol=2e-6, rtol=1e-4)


def test_visitation_and_bandit_value():
    mdp = load_tabular_mdp("mdp_5s5a_hard")
    d = tpg.discounted_visitation(mdp, random_logits(mdp, 0))
    assert float(d.sum()) == pytest.approx(1.0, abs=1e-5) and bool(jnp.all(d > 0))
    # gamma = 0: V(rho) is the expected immediate reward, d = rho.
    bandit = load_tabular_mdp("bandit_hard")
    pi = jax.nn.softmax(jnp.array([1.0, 3.0, 5.0]))
    assert float(tpg.value(bandit, bandit.initial_logits)) == pytest.approx(
        float(pi @ jnp.array([1.0, 0.99, 0.0])), rel=1e-6)
    np.testing.assert_allclose(tpg.discounted_visitation(bandit, bandit.initial_logits), [1.0])


def monte_carlo_returns(mdp, logits, n, horizon, seed):
    """Discounted returns of ``n`` rollouts of ``softmax(logits)`` through the gymnax env."""
    env = TabularMDPEnv(mdp, max_steps_in_episode=horizon + 1)
    params = env.default_params

    def rollout(key):
        key, k_reset = jax.random.split(key)
        _, state = env.reset(k_reset, params)

        def body(carry, t):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            a = jax.random.categorical(k_act, logits[state.state])
            _, state, reward, _, _, _ = env.step(k_step, state, a, params)
            return (state, key), mdp.gamma ** t * reward

        _, rewards = jax.lax.scan(body, (state, key), jnp.arange(horizon))
        return rewards.sum()

    return jax.jit(jax.vmap(rollout))(jax.random.split(jax.random.key(seed), n))


@pytest.mark.parametrize("task", ["bandit_hard", "mdp_5s5a_hard"])
def test_exact_value_matches_monte_carlo_rollouts(task):
    mdp = load_tabular_mdp(task)
    logits = random_logits(mdp, 1, scale=0.5)
    horizon = 1 if float(mdp.gamma) == 0 else 120
    returns = np.asarray(monte_carlo_returns(mdp, logits, 4000, horizon, seed=2), np.float64)
    half = 3.3 * returns.std(ddof=1) / np.sqrt(len(returns))  # ~99.9% normal interval
    bias = float(mdp.gamma) ** horizon / (1 - float(mdp.gamma))  # truncation, rewards <= 1
    exact = float(tpg.value(mdp, logits))
    assert abs(returns.mean() - exact) <= half + bias, (returns.mean(), exact, half)


@pytest.mark.parametrize("task", ["bandit_uniform", "mdp_5s5a_hard"])
def test_value_iteration_optimal_and_greedy_consistent(task):
    mdp = load_tabular_mdp(task)
    sol = tpg.value_iteration(mdp)
    # Bellman optimality: Q* = r + gamma P V*, V* = max_a Q*, the policy is greedy in Q*.
    q = mdp.reward + mdp.gamma * jnp.einsum("sat,t->sa", mdp.transition, sol.values)
    np.testing.assert_allclose(sol.q, q, atol=1e-5)
    np.testing.assert_allclose(sol.values, sol.q.max(-1), atol=1e-5)
    np.testing.assert_array_equal(jnp.argmax(sol.policy, -1), jnp.argmax(sol.q, -1))
    # The greedy policy's own value (an independent linear solve) equals V*.
    greedy_logits = 60.0 * sol.policy
    np.testing.assert_allclose(tpg.state_values(mdp, greedy_logits), sol.values, atol=1e-4)
    # V* dominates random softmax policies, state by state.
    logits = jax.random.normal(jax.random.key(3), (200, *mdp.initial_logits.shape)) * 3.0
    values = jax.vmap(lambda w: tpg.state_values(mdp, w))(logits)
    assert bool(jnp.all(values <= sol.values + 1e-5))


@pytest.mark.parametrize("task", ["bandit_hard", "mdp_5s5a_uniform"])
@pytest.mark.parametrize("baseline", [False, True])
def test_sampled_gradient_is_unbiased(task, baseline):
    mdp = load_tabular_mdp(task)
    logits = random_logits(mdp, 4, scale=0.5)
    n = 20000
    samples = jax.jit(jax.vmap(lambda k: tpg.sampled_gradient(mdp, logits, k,
                                                              baseline=baseline)))(
        jax.random.split(jax.random.key(5), n))
    # One sample touches one state row: (e_a - pi) Q / (1 - gamma) on that row only.
    assert int(jnp.max(jnp.sum(jnp.any(samples != 0, -1), -1))) == 1
    se = samples.std(0) / np.sqrt(n)
    err = jnp.abs(samples.mean(0) - tpg.exact_gradient(mdp, logits))
    assert bool(jnp.all(err <= 4.5 * se + 1e-6)), (err, se)
    # A batch of B samples averages B independent estimates: same mean, variance / B.
    batches = jax.jit(jax.vmap(lambda k: tpg.sampled_gradient(mdp, logits, k, batch_size=8,
                                                              baseline=baseline)))(
        jax.random.split(jax.random.key(6), 4000))
    ratio = float(batches.var(0).sum() / samples.var(0).sum())
    assert 1 / 8 * 0.8 < ratio < 1 / 8 * 1.25, ratio


def test_gymnax_api_reset_and_step():
    mdp = load_tabular_mdp("mdp_5s5a_uniform")
    env = TabularMDPEnv(mdp, max_steps_in_episode=3)
    params = env.default_params
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == (5,) and float(obs.sum()) == 1.0 and int(state.time) == 0
    assert env.num_actions == 5 and env.action_space(params).n == 5
    out = env.step(jax.random.key(1), state, 2, params)
    # gymnax 1.x here: (obs, state, reward, terminated, truncated, info).
    assert len(out) == 6
    obs2, state2, reward, terminated, truncated, info = out
    assert float(reward) == pytest.approx(float(mdp.reward[state.state, 2]))
    assert not bool(terminated) and not bool(truncated) and int(state2.time) == 1
    assert int(jnp.argmax(obs2)) == int(info["state"]) == int(state2.state)
    for k in range(2):  # the third step hits the horizon: truncated, then auto-reset
        obs2, state2, _, _, truncated, _ = env.step(jax.random.key(2 + k), state2, 0, params)
    assert bool(truncated) and int(state2.time) == 0
    # Next-state frequencies follow P(. | s, a).
    _, s0 = env.reset(jax.random.key(0), params)
    s0 = s0.replace(state=jnp.array(1))
    nxt = jax.vmap(lambda k: env.step(k, s0, 3, params)[1].state)(
        jax.random.split(jax.random.key(9), 20000))
    freq = np.bincount(np.asarray(nxt), minlength=5) / 20000
    np.testing.assert_allclose(freq, mdp.transition[1, 3], atol=0.015)
    # Registered with gymnax.make.
    register_gymnax()
    register_gymnax()  # idempotent
    env2, params2 = gymnax.make("TabularMDP-jaxcurr", mdp="bandit_uniform")
    assert env2.num_actions == 3 and params2.mdp.num_states == 1
