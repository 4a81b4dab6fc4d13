"""Discrete SAC: losses against NumPy, optimiser switches, GrAdE, episodes, vmapping, learning."""

import dataclasses
import math

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.envs import four_rooms
from jaxcurr.kinds.discrete_sac import old_layout
from jaxcurr.students.sac.config import SACConfig
from jaxcurr.students.sac.discrete import (
    DDPGInitMLP,
    Transition,
    make_learner,
    make_sac,
    make_train,
    monte_carlo_greedy_evaluator,
    polyak_update,
    tabular_greedy_evaluator,
    temperature_loss,
)
from jaxcurr.students.variants import Variant, entropy_coefficient, variants

OBS_DIM, ACTIONS, BATCH = 6, 4, 16


def variant(grokfast: float, grade: float) -> Variant:
    return Variant(grokfast=jnp.float32(grokfast), grade=jnp.float32(grade))


def fixed_batch(seed: int = 0) -> Transition:
    rng = np.random.default_rng(seed)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(BATCH, OBS_DIM)), jnp.float32),
        action=jnp.asarray(rng.integers(0, ACTIONS, BATCH), jnp.int32),
        reward=jnp.asarray(rng.normal(size=BATCH), jnp.float32),
        terminated=jnp.asarray(rng.integers(0, 2, BATCH), jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(BATCH, OBS_DIM)), jnp.float32))


def np_mlp(p, x):
    """NumPy forward of one DDPGInitMLP from its parameter dict (float64)."""
    f = lambda a: np.asarray(a, np.float64)
    h = np.maximum(x @ f(p["hidden_kernel"]) + f(p["hidden_bias"]), 0.0)
    return h @ f(p["out"]["kernel"]) + f(p["out"]["bias"])


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_twin(critic_params, x):
    return [np_mlp(critic_params["params"][name], x) for name in ("q1", "q2")]


def perturbed_learner(config, seed=0):
    """A learner whose target critic differs from its critic and whose alpha is not 1."""
    init = jax.jit(make_learner(config, ACTIONS).init)
    learner = init(jax.random.key(seed), jnp.zeros(OBS_DIM), variant(0, 0))
    other = init(jax.random.key(seed + 100), jnp.zeros(OBS_DIM), variant(0, 0))
    # Larger output layers than the DDPG init's +-3e-3, so the losses are not all near zero.
    bump = lambda p: jax.tree_util.tree_map_with_path(
        lambda path, x: x * 300.0 if "out" in jax.tree_util.keystr(path) else x, p)
    learner = learner._replace(actor=bump(learner.actor), critic=bump(learner.critic),
                               target_critic=bump(other.critic),
                               log_alpha=jnp.float32(math.log(0.7)))
    return learner


def np_critic_loss(learner, batch, alpha, gamma):
    """``mean sum_i 1/2 (Q_i(s, a) - y)^2`` with the soft target at temperature ``alpha``."""
    x, x2 = np.asarray(batch.obs, np.float64), np.asarray(batch.next_obs, np.float64)
    a, r, d = np.asarray(batch.action), np.asarray(batch.reward), np.asarray(batch.terminated)
    next_logp = np_log_softmax(np_mlp(learner.actor["params"], x2))
    next_q = np.minimum(*np_twin(learner.target_critic, x2))
    y = r + gamma * (1 - d) * (np.exp(next_logp) * (next_q - alpha * next_logp)).sum(-1)
    q1, q2 = np_twin(learner.critic, x)
    rows = np.arange(len(a))
    return np.mean(0.5 * (q1[rows, a] - y) ** 2 + 0.5 * (q2[rows, a] - y) ** 2)


CONFIG = SACConfig(hidden=8, batch_size=BATCH, buffer_size=64, random_steps=BATCH,
                   learning_rate=1e-2)
UPDATE = jax.jit(make_learner(CONFIG, ACTIONS).update)  # compiled once for every test here


def test_losses_match_numpy_on_a_fixed_batch():
    learner = perturbed_learner(CONFIG)
    batch = fixed_batch()
    new, info = UPDATE(learner, batch, variant(0, 0))
    x = np.asarray(batch.obs, np.float64)
    alpha, gamma = 0.7, CONFIG.gamma

    np.testing.assert_allclose(info.critic_loss, np_critic_loss(learner, batch, alpha, gamma),
                               rtol=1e-5)

    logp = np_log_softmax(np_mlp(learner.actor["params"], x))  # pre-update actor
    q_new = np.minimum(*np_twin(new.critic, x))  # the actor sees the updated critics
    actor = np.mean((np.exp(logp) * (alpha * logp - q_new)).sum(-1))
    np.testing.assert_allclose(info.actor_loss, actor, rtol=1e-5)
    entropy = np.mean(-(np.exp(logp) * logp).sum(-1))
    np.testing.assert_allclose(info.entropy, entropy, rtol=1e-5)

    # Temperature: dJ/dlog(alpha) = -alpha (H_target - H); Adam's first step is -lr * sign.
    target = 0.5 * math.log(ACTIONS)
    grad = -alpha * (target - entropy)
    grad_jax = jax.grad(temperature_loss)(jnp.float32(math.log(alpha)), jnp.exp(logp),
                                          jnp.asarray(logp), target)
    np.testing.assert_allclose(grad_jax, grad, rtol=1e-5)
    np.testing.assert_allclose(new.log_alpha, math.log(alpha) - 1e-2 * np.sign(grad),
                               rtol=1e-5)
    np.testing.assert_allclose(info.alpha, alpha, rtol=1e-6)
    np.testing.assert_allclose(info.actor_entropy_coef, alpha, rtol=1e-6)

    # Polyak: target <- tau * (updated critic) + (1 - tau) * target.
    for t_new, c_new, t_old in zip(jax.tree.leaves(new.target_critic),
                                   jax.tree.leaves(new.critic),
                                   jax.tree.leaves(learner.target_critic), strict=True):
        np.testing.assert_allclose(t_new, 0.005 * np.asarray(c_new) + 0.995 * np.asarray(t_old),
                                   rtol=1e-5, atol=1e-7)


def test_polyak_update_on_a_tree():
    online = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    target = {"a": jnp.array([0.0, -2.0]), "b": jnp.array(1.0)}
    out = polyak_update(online, target, 0.25)
    np.testing.assert_allclose(out["a"], [0.25, -1.0])
    np.testing.assert_allclose(out["b"], 1.5)


def np_grokfast_adam(lr, lamb, alpha=0.98, b1=0.9, b2=0.999, eps=1e-8):
    """NumPy reference: Grokfast-EMA (mu starts at the first gradient) then Adam."""
    state = {"t": 0, "mu": None, "m": 0.0, "v": 0.0}

    def step(g):
        state["t"] += 1
        state["mu"] = g if state["mu"] is None else alpha * state["mu"] + (1 - alpha) * g
        g_hat = g + lamb * state["mu"]
        state["m"] = b1 * state["m"] + (1 - b1) * g_hat
        state["v"] = b2 * state["v"] + (1 - b2) * g_hat ** 2
        m_hat = state["m"] / (1 - b1 ** state["t"])
        v_hat = state["v"] / (1 - b2 ** state["t"])
        return -lr * m_hat / (np.sqrt(v_hat) + eps)

    return step


def reference_critic_grad(learner, batch, gamma):
    """Critic gradient from a separate jnp implementation of the loss (own forward pass)."""

    def mlp(p, x):
        return jax.nn.relu(x @ p["hidden_kernel"] + p["hidden_bias"]) @ p["out"]["kernel"] \
            + p["out"]["bias"]

    alpha = jnp.exp(learner.log_alpha)
    logp2 = jax.nn.log_softmax(mlp(learner.actor["params"], batch.next_obs))
    tq = learner.target_critic["params"]
    q2min = jnp.minimum(mlp(tq["q1"], batch.next_obs), mlp(tq["q2"], batch.next_obs))
    y = batch.reward + gamma * (1 - batch.terminated) * jnp.sum(
        jnp.exp(logp2) * (q2min - alpha * logp2), -1)

    def loss(params):
        p = params["params"]
        rows = jnp.arange(batch.action.shape[0])
        return sum(jnp.mean(0.5 * (mlp(p[n], batch.obs)[rows, batch.action] - y) ** 2)
                   for n in ("q1", "q2"))

    return jax.grad(loss)(learner.critic)


reference_critic_grad = jax.jit(reference_critic_grad, static_argnums=2)


@pytest.mark.parametrize("switch", [0.0, 1.0])
def test_grokfast_switch_gives_plain_adam_or_grokfast_adam(switch):
    learner = perturbed_learner(CONFIG)
    batch = fixed_batch(1)
    refs = [np_grokfast_adam(CONFIG.learning_rate, 2.0 * switch)
            for _ in jax.tree.leaves(learner.critic)]
    for _ in range(3):
        grads = jax.tree.leaves(reference_critic_grad(learner, batch, CONFIG.gamma))
        new, _ = UPDATE(learner, batch, variant(switch, 0.0))
        for got, old, g, ref in zip(jax.tree.leaves(new.critic), jax.tree.leaves(learner.critic),
                                    grads, refs, strict=True):
            want = np.asarray(old, np.float64) + ref(np.asarray(g, np.float64))
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        learner = new


def test_grokfast_switch_changes_the_second_update():
    learner = perturbed_learner(CONFIG)
    batch = fixed_batch(2)
    out = {}
    for switch in (0.0, 1.0):
        state = learner
        for _ in range(2):
            state, _ = UPDATE(state, batch, variant(switch, 0.0))
        out[switch] = np.concatenate([np.ravel(x) for x in jax.tree.leaves(state.critic)])
    assert np.max(np.abs(out[0.0] - out[1.0])) > 1e-4


def test_grade_scales_the_actor_entropy_coefficient_by_the_gradient_ratio():
    learner = perturbed_learner(CONFIG)
    batch = fixed_batch(3)
    infos = {}
    for grade in (0.0, 1.0):
        state, rows = learner, []
        for _ in range(5):
            state, info = UPDATE(state, batch, variant(0.0, grade))
            rows.append([float(info.actor_grad_magnitude), float(info.alpha),
                         float(info.actor_entropy_coef)])
        infos[grade] = np.array(rows)
    plain = infos[0.0]
    np.testing.assert_allclose(plain[:, 2], plain[:, 1], rtol=1e-6)
    mag, alpha, coef = infos[1.0].T
    ratio, ema, ema_max = 1.0, None, None  # the first loss gets the full alpha
    for t in range(5):
        np.testing.assert_allclose(coef[t], alpha[t] * ratio, rtol=1e-5)
        ema = mag[t] if ema is None else 0.9 * ema + 0.1 * mag[t]
        ema_max = ema if ema_max is None else max(ema_max, ema)
        ratio = ema / (ema_max + 1e-8)
    assert coef[-1] < alpha[-1]  # the ratio fell below 1 at some point


@pytest.mark.parametrize("scope", ["actor", "all"])
def test_grade_scope_sets_where_alpha_r_replaces_alpha(scope):
    """``grade_scope = "all"``: the soft target and the temperature's gradient use ``alpha r``
    (``-alpha r (H_target - H)``); ``"actor"`` (the paper): both use ``alpha``."""
    import optax

    learner = perturbed_learner(CONFIG)
    batch = fixed_batch(3)
    for _ in range(5):  # GrAdE's ratio falls below 1
        learner, _ = UPDATE(learner, batch, variant(0.0, 1.0))
    r = float(entropy_coefficient(learner.actor_opt, 1.0, 1.0))
    assert r < 0.99
    learner = learner._replace(alpha_opt=optax.adam(CONFIG.learning_rate).init(learner.log_alpha))
    config = dataclasses.replace(CONFIG, grade_scope=scope)
    new, info = jax.jit(make_learner(config, ACTIONS).update)(learner, batch, variant(0.0, 1.0))
    alpha = float(np.exp(learner.log_alpha))
    scale = r if scope == "all" else 1.0
    np.testing.assert_allclose(info.actor_entropy_coef, alpha * r, rtol=1e-5)
    np.testing.assert_allclose(info.critic_loss,
                               np_critic_loss(learner, batch, alpha * scale, CONFIG.gamma),
                               rtol=1e-5)
    logp = np_log_softmax(np_mlp(learner.actor["params"], np.asarray(batch.obs, np.float64)))
    entropy = np.mean(-(np.exp(logp) * logp).sum(-1))
    grad = -scale * alpha * (0.5 * math.log(ACTIONS) - entropy)
    first_moment = float(new.alpha_opt[0].mu)  # Adam's first step: (1 - b1) * gradient
    np.testing.assert_allclose(first_moment, 0.1 * grad, rtol=1e-4)


def test_one_hot_first_layer_is_the_same_function():
    x = jax.nn.one_hot(jnp.array([3, 7, 7, 0, 9]), 10)
    dense, lookup = DDPGInitMLP(4, 16), DDPGInitMLP(4, 16, one_hot_inputs=True)
    params = jax.jit(dense.init)(jax.random.key(1), x)
    outputs = [jax.jit(m.apply)(params, x) for m in (dense, lookup)]
    np.testing.assert_allclose(*outputs, atol=1e-7)
    grads = [jax.jit(jax.grad(lambda p, m=m: jnp.sum(m.apply(p, x) ** 2)))(params)
             for m in (dense, lookup)]
    for a, b in zip(*map(jax.tree.leaves, grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_ddpg_initialisation_bounds():
    params = jax.jit(DDPGInitMLP(4, 32).init)(jax.random.key(0), jnp.zeros(50))["params"]
    bound = 1 / math.sqrt(50)
    assert np.abs(params["hidden_kernel"]).max() <= bound
    assert np.abs(params["hidden_kernel"]).max() > 0.9 * bound
    assert np.abs(params["out"]["kernel"]).max() <= 3e-3


def test_the_authors_two_hidden_layers_of_200():
    """``hidden = (200, 200)``: 8 -> 200 -> 200 -> 4 as in the authors' LunarLander
    checkpoints, each hidden layer U(+-1/sqrt(fan-in)), the same function as a NumPy MLP; a
    single width keeps the one-layer parameter names (older checkpoints restore)."""
    net = DDPGInitMLP(4, (200, 200))
    params = jax.jit(net.init)(jax.random.key(0), jnp.zeros(8))["params"]
    shapes = {k: np.shape(v) for k, v in jax.tree_util.tree_leaves_with_path(params)}
    assert {jax.tree_util.keystr(k): v for k, v in shapes.items()} == {
        "['hidden_1']['bias']": (200,), "['hidden_1']['kernel']": (200, 200),
        "['hidden_bias']": (200,), "['hidden_kernel']": (8, 200),
        "['out']['bias']": (4,), "['out']['kernel']": (200, 4)}
    for name, fan_in in (("hidden_kernel", 8), ("hidden_bias", 8)):
        assert 0.9 / math.sqrt(fan_in) < np.abs(params[name]).max() <= 1 / math.sqrt(fan_in)
    for leaf in params["hidden_1"].values():
        assert 0.9 / math.sqrt(200) < np.abs(leaf).max() <= 1 / math.sqrt(200)
    x = np.random.default_rng(0).normal(size=(5, 8))
    f = lambda a: np.asarray(a, np.float64)
    h = np.maximum(x @ f(params["hidden_kernel"]) + f(params["hidden_bias"]), 0)
    h = np.maximum(h @ f(params["hidden_1"]["kernel"]) + f(params["hidden_1"]["bias"]), 0)
    expected = h @ f(params["out"]["kernel"]) + f(params["out"]["bias"])
    np.testing.assert_allclose(net.apply({"params": params}, jnp.asarray(x, jnp.float32)),
                               expected, rtol=1e-4, atol=1e-6)
    one = jax.jit(DDPGInitMLP(4, 16).init)(jax.random.key(0), jnp.zeros(8))["params"]
    assert set(one) == {"hidden_kernel", "hidden_bias", "out"}


# ---------------------------------------------------------------------------------------------
# Training loop on Four Rooms


def small_four_rooms(**kw):
    env = four_rooms.FourRooms()
    return env, env.default_params.replace(**kw)


def exact_evaluator(env, params, gamma=0.99):
    return tabular_greedy_evaluator(
        env.all_observations(params), env.num_actions,
        lambda policy: four_rooms.policy_discounted_return(params, policy, gamma))


def test_replay_cuts_bootstrapping_only_on_termination():
    env, params = small_four_rooms(start=jnp.array([9, 10]), max_steps_in_episode=4)
    config = SACConfig(hidden=8, batch_size=8, buffer_size=200, random_steps=150,
                       num_episodes=100, eval_every=100)
    sac = make_sac(config, env, params, exact_evaluator(env, params))
    state = jax.jit(sac.init)(jax.random.key(0), variant(0, 0))
    exp = jax.tree.map(lambda x: np.asarray(x[0, :150]), state.buffer.experience)
    goal = np.asarray(env.get_obs(four_rooms.EnvState(pos=jnp.array([10, 10]), time=0)))
    start = np.asarray(env.get_obs(four_rooms.EnvState(pos=jnp.array([9, 10]), time=0)))
    at_goal = np.all(exp.next_obs == goal, axis=1)
    np.testing.assert_array_equal(exp.terminated == 1.0, at_goal)
    assert 0 < at_goal.sum() < 150
    log = jax.tree.map(np.asarray, jax.jit(sac.metrics)(state))
    n = int(log["episodes"])
    lengths = log["length"][:n]
    truncated = (lengths == 4) & (log["return"][:n] == -4)  # time limit, goal not reached
    assert truncated.sum() > 0
    assert at_goal.sum() == n - truncated.sum() or at_goal.sum() == n - truncated.sum() + 1
    # After every episode end the next stored transition starts from the start cell.
    ends = np.cumsum(lengths).astype(int)
    ends = ends[ends < 150]
    np.testing.assert_array_equal(exp.obs[ends], np.broadcast_to(start, (len(ends), 104)))
    # Episode metrics: lengths add up to the env steps; random phase has no updates.
    assert np.sum(lengths) <= 150
    assert np.all(np.isnan(log["critic_loss"][:n]))


def test_vmapped_variants_and_seeds_equal_separate_runs():
    env, params = small_four_rooms(start=jnp.array([8, 10]), max_steps_in_episode=12)
    config = SACConfig(hidden=8, batch_size=8, buffer_size=64, random_steps=10, num_episodes=4,
                       eval_every=2, one_hot_observations=True)
    train = make_train(config, env, params, exact_evaluator(env, params), chunk_steps=8)
    keys = jax.random.split(jax.random.key(3), 2)
    var = variants(["grokfast", "grade"])
    together = jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))(keys, var)
    single = jax.jit(train)
    steps = set()
    for v in range(2):
        for s in range(2):
            alone = single(keys[s], jax.tree.map(lambda x, v=v: x[v], var))
            for name, value in alone.items():
                np.testing.assert_allclose(together[name][v, s], value, rtol=2e-5, atol=1e-6,
                                           equal_nan=True, err_msg=name)
            steps.add(int(alone["env_steps"]))
            assert int(alone["episodes"]) == 4
    assert len(steps) > 1  # the runs finished at different env steps


def test_each_snapshot_is_scored_once_at_the_end_of_its_chunk():
    """After every chunk the snapshots taken so far carry their score (the exact return of
    their greedy policy), later ones are NaN; an earlier score is never computed again (the
    stored snapshots overwritten with garbage leave it as it is)."""
    env, params = small_four_rooms(start=jnp.array([8, 10]), max_steps_in_episode=12)
    config = SACConfig(hidden=8, batch_size=8, buffer_size=64, random_steps=10,
                       num_episodes=12, eval_every=2)
    evaluator = exact_evaluator(env, params)
    sac = make_sac(config, env, params, evaluator, chunk_steps=20)
    state = jax.jit(sac.init)(jax.random.key(0), variant(0, 0))
    run_chunk = jax.jit(sac.run_chunk)
    score = jax.jit(lambda snapshot: evaluator.score(sac.learner.logits, snapshot,
                                                     jax.random.key(0)))
    first = np.zeros(0)
    for _ in range(3):
        state = run_chunk(state, variant(0, 0))
        taken = int(state.episodes) // 2
        assert int(state.evals_scored) == taken > len(first)
        for i in range(len(first), taken):
            snapshot = jax.tree.map(lambda x, i=i: x[i], state.snapshots)
            assert float(state.eval_scores[i]) == float(score(snapshot))
        assert np.all(np.isnan(np.asarray(state.eval_scores[taken:])))
        if not len(first):
            first = np.asarray(state.eval_scores[:taken])
            # a state saved by jaxcurr 0.1.0 (no scores) is upgraded to the same scores
            upgraded = jax.jit(sac.upgrade)(old_layout(state))
            np.testing.assert_array_equal(upgraded.eval_scores, state.eval_scores)
            assert int(upgraded.evals_scored) == taken
            state = state._replace(snapshots=jax.tree.map(jnp.zeros_like, state.snapshots))
    np.testing.assert_array_equal(np.asarray(state.eval_scores[:len(first)]), first)
    np.testing.assert_array_equal(jax.jit(sac.metrics)(state)["eval_return"],
                                  state.eval_scores)


def _adam_counts(opt_state):
    import optax

    return [int(c) for c in jax.tree.leaves(
        [x.count for x in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(
            x, optax.ScaleByAdamState)) if isinstance(x, optax.ScaleByAdamState)])]


def test_update_phases_and_reward_clipping():
    """``update_every = 4``: blocks of 4 env steps then 4 updates (every optimiser steps once
    per env step after the random phase); Four Rooms pays -1 per step, ``min_reward = -0.5``
    clips what is stored, not what is logged."""
    env, params = small_four_rooms(start=jnp.array([8, 10]), max_steps_in_episode=6)
    config = SACConfig(hidden=8, batch_size=8, buffer_size=64, random_steps=10, num_episodes=20,
                       update_every=4, clip_rewards=True, min_reward=-0.5,
                       eval_every=20, one_hot_observations=True)
    sac = make_sac(config, env, params, exact_evaluator(env, params), chunk_steps=8)
    plain = variant(0, 0)
    state = jax.jit(sac.init)(jax.random.key(0), plain)
    assert _adam_counts(state.learner.actor_opt) == [0]
    state = jax.jit(sac.run_chunk)(state, plain)
    assert int(state.step) == 18
    for opt in (state.learner.actor_opt, state.learner.critic_opt, state.learner.alpha_opt):
        assert _adam_counts(opt) == [8]
    rewards = np.asarray(state.buffer.experience.reward[0, :18])
    np.testing.assert_array_equal(rewards[rewards != 0.0], -0.5)  # 0 only at the goal
    log = jax.tree.map(np.asarray, jax.jit(sac.metrics)(state))
    n = int(log["episodes"])
    np.testing.assert_array_equal(log["return"][:n], -log["length"][:n] + (
        log["length"][:n] < 6))  # -1 per step, 0 for the step reaching the goal
    with pytest.raises(ConfigError, match="chunk_steps: got 8; allowed: a positive multiple of "
                       "sac.update_every"):
        make_sac(SACConfig(update_every=3), env, params, chunk_steps=8)


def test_sac_beats_the_uniform_random_policy_on_four_rooms():
    """Four Rooms with the goal in the start room (optimal -8.5, uniform random policy -50.6):
    after 1,500 updates the greedy policy's exact return beats random by a wide margin in
    every one of 4 seeds (CI-sized settings: 32 units, batch 32, lr 1e-3, initial alpha 0.1)."""
    env, params = small_four_rooms(goal=jnp.array([4, 4]), max_steps_in_episode=100)
    config = SACConfig(hidden=32, batch_size=32, learning_rate=1e-3, initial_alpha=0.1,
                       random_steps=500, one_hot_observations=True)
    evaluator = exact_evaluator(env, params)
    sac = make_sac(config, env, params, evaluator, chunk_steps=1500)
    plain = variant(0, 0)

    def run(key):
        state = sac.run_chunk(sac.init(key, plain), plain)
        greedy = evaluator.snapshot(sac.learner.logits, state.learner.actor, key)
        return evaluator.score(sac.learner.logits, greedy, key)

    returns = np.asarray(jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(0), 4)))
    uniform = float(four_rooms.policy_discounted_return(
        params, jnp.full((104, 4), 0.25), 0.99))
    optimal = float(four_rooms.optimal_discounted_return(params, 0.99))
    assert uniform < -45 and optimal > -9
    assert np.all(returns > uniform + 20), returns  # seeds reached -9 to -13 when written
    assert returns.mean() > -20


def test_monte_carlo_evaluator_matches_the_exact_return_when_deterministic():
    env, params = small_four_rooms(slip_prob=0.0, max_steps_in_episode=60)
    net = DDPGInitMLP(4, 16)
    actor = jax.jit(net.init)(jax.random.key(4), jnp.zeros(104))
    exact, mc = exact_evaluator(env, params), monte_carlo_greedy_evaluator(
        env, params, 0.99, episodes=2)
    key = jax.random.key(0)
    score = lambda ev: jax.jit(lambda p: ev.score(net.apply, ev.snapshot(net.apply, p, key),
                                                  key))(actor)
    np.testing.assert_allclose(score(mc), score(exact), rtol=1e-5)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"batch_size": 0}, "batch_size"), ({"hidden": 2.5}, "hidden"),
    ({"buffer_size": 8, "batch_size": 16}, "batch_size"), ({"gamma": 1.5}, "gamma"),
    ({"tau": 0.0}, "tau"), ({"random_steps": 0}, "random_steps"),
    ({"eval_every": 2000}, "eval_every"), ({"learning_rate": -1.0}, "learning_rate"),
    ({"target_entropy_scale": 2.0}, "target_entropy_scale"), ({"grade_beta": 1.0}, "grade_beta"),
    ({"one_hot_observations": "yes"}, "one_hot_observations"),
    ({"num_episodes": True}, "num_episodes"), ({"update_every": 0}, "update_every"),
    ({"min_reward": math.nan}, "min_reward"), ({"clip_rewards": 1}, "clip_rewards"),
    ({"hidden": 0}, "hidden"), ({"hidden": (200, 0)}, "hidden"), ({"hidden": ()}, "hidden"),
    ({"grade_scope": "critic"}, "grade_scope"),
])
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"sac.{field}: got"):
        SACConfig(**kwargs)


def test_make_sac_rejects_a_non_config():
    env, params = small_four_rooms()
    with pytest.raises(ConfigError, match="config: got dict"):
        make_sac({"hidden": 8}, env, params)


def test_any_gymnax_env_with_the_monte_carlo_evaluator_and_the_step_cap():
    env, params = gymnax.make("CartPole-v1")
    config = SACConfig(hidden=8, batch_size=8, buffer_size=64, random_steps=20,
                       num_episodes=20, max_env_steps=60)
    evaluator = monte_carlo_greedy_evaluator(env, params, 0.99, episodes=2, max_steps=40)
    out = jax.jit(make_train(config, env, params, evaluator, chunk_steps=16))(
        jax.random.key(0), variant(1, 1))
    episodes = int(out["episodes"])
    assert int(out["env_steps"]) == 60 and 0 < episodes < 20  # stopped by max_env_steps
    assert np.all(np.isfinite(out["eval_return"][:episodes]))
    assert np.all(out["eval_return"][:episodes] >= 1)  # CartPole pays +1 per step
    assert np.all(np.isnan(out["eval_return"][episodes:]))
    np.testing.assert_allclose(np.nansum(out["length"]), out["end_step"][episodes - 1])
