"""Tests for jaxcurr.students.ppo.standard and ppo_episodic against NumPy references and on
CartPole."""

from __future__ import annotations

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.students.ppo import episodic as ppo_episodic
from jaxcurr.students.ppo import standard as ppo
from jaxcurr.students.variants import Variant, variants

CLIP = 0.2



@pytest.fixture(scope="module")
def cartpole():
    return gymnax.make("CartPole-v1")


def np_clipped_objective(ratio, adv, eps):
    """Case by case, as the PPO paper describes the clip (Schulman et al. 2017, fig. 1)."""
    out = np.empty_like(ratio)
    for i, (r, a) in enumerate(zip(ratio, adv, strict=True)):
        if a >= 0:
            out[i] = min(r, 1 + eps) * a  # a good action gains nothing beyond 1 + eps
        else:
            out[i] = max(r, 1 - eps) * a  # a bad action gains nothing below 1 - eps
    return out


def test_clipped_objective_matches_case_analysis():
    ratio = np.array([0.5, 0.9, 1.0, 1.1, 1.5, 0.5, 0.9, 1.0, 1.1, 1.5], np.float32)
    adv = np.array([2.0, 2.0, 2.0, 2.0, 2.0, -3.0, -3.0, -3.0, -3.0, -3.0], np.float32)
    got = ppo.clipped_objective(jnp.asarray(ratio), jnp.asarray(adv), CLIP)
    np.testing.assert_allclose(got, np_clipped_objective(ratio, adv, CLIP), rtol=1e-6)
    # gradient w.r.t. the ratio: A where the unclipped term is active, 0 where clipped
    grad = jax.vmap(jax.grad(ppo.clipped_objective), (0, 0, None))(
        jnp.asarray(ratio), jnp.asarray(adv), CLIP)
    clipped = ((adv > 0) & (ratio > 1 + CLIP)) | ((adv < 0) & (ratio < 1 - CLIP))
    np.testing.assert_allclose(grad, np.where(clipped, 0.0, adv), rtol=1e-6)
    # the cases the objective must NOT clip: positive A below 1 - eps, negative A above 1 + eps
    assert grad[0] == 2.0 and grad[9] == -3.0


def np_gae(rewards, values, next_values, terminated, done, gamma, lam):
    adv = np.zeros_like(rewards)
    last = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_values[t] * (1 - terminated[t]) - values[t]
        last = delta + gamma * lam * (1 - done[t]) * last
        adv[t] = last
    return adv, adv + values


def test_gae_matches_numpy_with_termination_and_truncation():
    rng = np.random.default_rng(0)
    t, n = 12, 3
    rewards = rng.normal(size=(t, n)).astype(np.float32)
    values = rng.normal(size=(t, n)).astype(np.float32)
    next_values = rng.normal(size=(t, n)).astype(np.float32)
    terminated = np.zeros((t, n), bool)
    truncated = np.zeros((t, n), bool)
    terminated[3, 0] = terminated[7, 1] = True
    truncated[5, 0] = truncated[9, 2] = True
    done = terminated | truncated
    got_adv, got_target = ppo.gae(rewards, values, next_values, terminated, done, 0.99, 0.95)
    adv, target = np_gae(rewards, values, next_values, terminated, done, 0.99, 0.95)
    np.testing.assert_allclose(got_adv, adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_target, target, rtol=1e-5, atol=1e-5)
    # at a truncation the step bootstraps from V(s'), at a termination it does not
    assert np.isclose(got_adv[5, 0], rewards[5, 0] + 0.99 * next_values[5, 0] - values[5, 0])
    assert np.isclose(got_adv[3, 0], rewards[3, 0] - values[3, 0])


def test_normalized_returns_match_numpy():
    rewards = np.array([1.0, -2.0, 0.5, 3.0, 1.0, 7.0, 9.0], np.float32)
    mask = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)  # episode of 5 steps, then padding
    gamma = 0.9
    length = int(mask.sum())
    returns = np.zeros(length)
    running = 0.0
    for k in reversed(range(length)):
        running = rewards[k] + gamma * running
        returns[k] = running
    expected = (returns - returns.mean()) / (returns.std() + 1e-8)
    got = np.asarray(ppo_episodic.normalized_returns(jnp.asarray(rewards), mask, gamma))
    np.testing.assert_allclose(got[:length], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[length:], 0.0)


def _random_batch(key, num_actions=2, size=32, obs_dim=4):
    keys = jax.random.split(key, 5)
    return ppo.Batch(
        obs=jax.random.normal(keys[0], (size, obs_dim)),
        action=jax.random.randint(keys[1], (size,), 0, num_actions),
        log_prob=jnp.log(jnp.full((size,), 1.0 / num_actions)),
        value=jax.random.normal(keys[2], (size,)),
        advantage=jax.random.normal(keys[3], (size,)),
        target=jax.random.normal(keys[4], (size,)),
        mask=jnp.ones(size))


def test_grokfast_switch_zero_equals_plain_adam():
    config = ppo.PPOConfig(hidden=(16, 16))  # value_clip 0.2: the clipped critic loss too
    off = Variant(grokfast=jnp.float32(0.0), grade=jnp.float32(0.0))
    on = Variant(grokfast=jnp.float32(1.0), grade=jnp.float32(0.0))
    ours = ppo.make_learner(config, 2, off, actor_lr=1e-2, critic_lr=1e-2)
    boosted = ppo.make_learner(config, 2, on, actor_lr=1e-2, critic_lr=1e-2)
    plain = ours._replace(actor_tx=optax.adam(1e-2), critic_tx=optax.adam(1e-2))
    batch = _random_batch(jax.random.key(1))
    agents = [ppo.init_agent(jax.random.key(0), config, learner, 2, batch.obs[0])
              for learner in (ours, plain, boosted)]

    def step(agents, shift):
        shifted = batch._replace(advantage=batch.advantage + shift)
        return [ppo.update_agent(learner, agent, shifted, 0.01, CLIP, config.value_clip)[0]
                for learner, agent in zip((ours, plain, boosted), agents, strict=True)], None

    # one compiled program for the three runs (compiling op by op is slower on CPU)
    agents = jax.jit(lambda agents: jax.lax.scan(step, agents, jnp.arange(3.0))[0])(agents)
    for a, b in ((agents[0].actor_params, agents[1].actor_params),
                 (agents[0].critic_params, agents[1].critic_params)):
        jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7), a, b)
    moved = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.max(jnp.abs(x - y)),
                                         agents[0].actor_params, agents[2].actor_params))
    assert max(float(x) for x in moved) > 1e-4  # switch 1 does change the updates


def _check_vmap_equals_separate(train, num_seeds=2):
    stack = variants()
    keys = jax.random.split(jax.random.key(3), num_seeds)
    grid = jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))
    _, batched = grid(keys, stack)
    single = jax.jit(train)
    for i in range(4):
        variant = jax.tree.map(lambda x, i=i: x[i], stack)
        for s in range(num_seeds):
            _, alone = single(keys[s], variant)
            for name, values in alone.items():
                np.testing.assert_allclose(batched[name][i, s], values, rtol=2e-4, atol=1e-5,
                                           err_msg=name)
    return batched


def test_vmapped_variants_and_seeds_equal_separate_runs(cartpole):
    env, params = cartpole
    config = ppo.PPOConfig(num_envs=2, num_steps=16, num_minibatches=2, update_epochs=2,
                           total_timesteps=128, hidden=(16,))
    metrics = _check_vmap_equals_separate(ppo.make_train(config, env, params))
    assert set(ppo.METRICS) <= set(metrics)
    assert metrics["actor_loss"].shape == (4, 2, config.num_updates)
    # plain and grokfast use entropy_coef; with GrAdE the coefficient is kappa * r <= kappa
    np.testing.assert_allclose(metrics["entropy_coef"][:2], config.entropy_coef, rtol=1e-6)
    grade_coef = metrics["entropy_coef"][2:]
    assert np.all(grade_coef > 0) and np.all(grade_coef <= config.grade_kappa * (1 + 1e-6))
    assert np.any(grade_coef < config.grade_kappa * 0.999)


def test_episodic_vmap_and_masking(cartpole):
    env, params = cartpole
    short = params.replace(max_steps_in_episode=20)
    config = ppo_episodic.EpisodicPPOConfig(num_episodes=3, hidden=(16,))
    metrics = _check_vmap_equals_separate(ppo_episodic.make_train(config, env, short))
    length = metrics["episode_length"]
    # CartPole pays 1 per step: the masked return is the episode's length, cut at the limit
    np.testing.assert_array_equal(metrics["episode_return"], length)
    assert np.all((length >= 1) & (length <= 20)) and np.any(length == 20)


def test_standard_ppo_learns_cartpole(cartpole):
    """4 seeds x 100k steps with the default (CleanRL) hyperparameters: a random policy gets
    about 22; runs of this length typically reach 300-500. Threshold: mean over seeds of the
    last 10 updates' returns > 150."""
    env, params = cartpole
    config = ppo.PPOConfig(total_timesteps=100_000)
    train = jax.vmap(ppo.make_train(config, env, params), (0, None))
    plain = jax.tree.map(lambda x: x[0], variants(["plain"]))
    _, metrics = jax.jit(train)(jax.random.split(jax.random.key(0), 4), plain)
    final = np.asarray(metrics["episode_return"][:, -10:]).mean(1)
    assert final.mean() > 150, final
    assert np.asarray(metrics["episode_return"][:, 0]).mean() < 50


@pytest.mark.parametrize("make, field", [
    (lambda: ppo.PPOConfig(num_minibatches=3), "num_minibatches"),
    (lambda: ppo.PPOConfig(gamma=1.5), "gamma"),
    (lambda: ppo.PPOConfig(gae_lambda=-0.1), "gae_lambda"),
    (lambda: ppo.PPOConfig(activation="gelu"), "activation"),
    (lambda: ppo.PPOConfig(hidden=()), "hidden"),
    (lambda: ppo.PPOConfig(total_timesteps=100), "total_timesteps"),
    (lambda: ppo.PPOConfig(clip_eps=0.0), "clip_eps"),
    (lambda: ppo.PPOConfig(num_envs=2.5), "num_envs"),
    (lambda: ppo_episodic.EpisodicPPOConfig(num_episodes=0), "num_episodes"),
    (lambda: ppo_episodic.EpisodicPPOConfig(actor_lr=-1e-3), "actor_lr"),
    (lambda: ppo_episodic.EpisodicPPOConfig(grade_kappa=-0.02), "grade_kappa"),
])
def test_config_errors_name_the_field(make, field):
    with pytest.raises(ConfigError, match=rf"^{field}: got .*; allowed: "):
        make()


def test_make_train_rejects_the_other_config(cartpole):
    env, params = cartpole
    with pytest.raises(ConfigError, match="^config: got EpisodicPPOConfig"):
        ppo.make_train(ppo_episodic.EpisodicPPOConfig(), env, params)
    with pytest.raises(ConfigError, match="^config: got PPOConfig"):
        ppo_episodic.make_train(ppo.PPOConfig(), env, params)


def test_episodic_defaults_are_the_papers():
    config = ppo_episodic.EpisodicPPOConfig()
    assert (config.hidden, config.activation, config.actor_lr, config.critic_lr) == (
        (128, 128), "relu", 5e-4, 1e-3)
    assert (config.update_epochs, config.gamma, config.clip_eps, config.entropy_coef,
            config.grade_kappa, config.value_clip) == (5, 0.99, 0.2, 0.01, 0.02, 0.0)



def test_the_kinds_greedy_evaluation_equals_a_python_rollout_of_the_final_policy(cartpole):
    """``report.greedy_episodes``: argmax rollouts of the last policy from keys of run.seed,
    checked against a plain loop that stops at the first terminated or truncated step."""
    from jaxcurr.kinds import ppo as kind
    from jaxcurr.students.ppo.common import make_networks

    config = kind.from_dict({
        "name": "greedy", "kind": "ppo", "env": {"name": "CartPole-v1", "max_steps_in_episode": 60},
        "agent": {"algo": "ppo_episodic"}, "ppo_episodic": {"num_episodes": 4, "hidden": [16]},
        "report": {"greedy_episodes": 3}, "run": {"seed": 7}})
    prog = kind.program(config)
    variant = jax.tree.map(lambda x: x[0], variants(["plain"]))
    carry = prog.init(jax.random.PRNGKey(0), variant)
    for _ in range(4):
        carry, _ = prog.update(carry, variant)
    got = jax.jit(kind.greedy_final(config, prog))(carry, None, None)["greedy_return"]

    env, params = cartpole
    params = params.replace(max_steps_in_episode=60)
    actor = make_networks(config.student, 2)[0]
    actor_params = prog.agent(carry).actor_params
    expected = []
    for key in jax.random.split(jax.random.fold_in(jax.random.PRNGKey(7), 1), 3):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, params)
        total = 0.0
        for k in jax.random.split(k_steps, 60):
            action = int(np.argmax(actor.apply(actor_params, obs)))
            obs, state, reward, terminated, truncated, _ = env.step(k, state, action, params)
            total += float(reward)
            if terminated or truncated:
                break
        expected.append(total)
    np.testing.assert_allclose(got, expected)
    assert len(set(expected)) > 1 or expected[0] < 60  # the rollouts are not all cut alike


def test_greedy_episodes_must_be_a_non_negative_integer():
    from jaxcurr.kinds import ppo as kind

    with pytest.raises(ConfigError, match=r"^report.greedy_episodes: got -1; allowed: an integer"):
        kind.from_dict({"name": "g", "kind": "ppo", "report": {"greedy_episodes": -1}})


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (200, 200), (256, 1)])
def test_orthogonal_init_equals_jax_orthogonal_without_lapack(shape):
    """networks.orthogonal draws jax.nn.initializers.orthogonal's matrix without LAPACK's QR
    (whose batched CPU kernel can deadlock XLA's 2-thread pool; networks.orthogonal's docstring):
    the same values to float32 rounding, orthonormal columns (or rows)."""
    from jaxcurr.students.networks import orthogonal

    for seed in range(3):
        key = jax.random.key(seed)
        ours = np.asarray(orthogonal(1.5)(key, shape))
        np.testing.assert_allclose(ours, jax.nn.initializers.orthogonal(1.5)(key, shape),
                                   atol=2e-5)
        small = ours if shape[0] >= shape[1] else ours.T
        np.testing.assert_allclose(small.T @ small / 1.5**2, np.eye(min(shape)), atol=1e-5)
