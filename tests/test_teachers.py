"""Teachers: the REINFORCE policy learns a bandit; the uniform teacher is uniform."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.teachers import base, reinforce_teacher, uniform_teacher

OBS = jnp.ones((1,))


@pytest.mark.parametrize("baseline", ["batch_mean", "ema"])
def test_reinforce_teacher_finds_the_best_task(baseline):
    """Noisy rewards with means 0.1..0.5 over five tasks: after training, the best task has
    the largest probability in at least 90% of 32 seeds (measured: 97-98% over 64 other
    seeds), and on average well above 1/5."""
    means = jnp.array([0.1, 0.2, 0.3, 0.5, 0.4])
    teacher = reinforce_teacher(5, hidden=(8,), learning_rate=1e-2, entropy_coef=0.0,
                                baseline=baseline)

    def run(key):
        state = teacher.init(key, OBS)

        def step(state, key):
            k_act, k_noise = jax.random.split(key)
            tasks = teacher.act(state, OBS, k_act, 32)
            rewards = means[tasks] + 0.3 * jax.random.normal(k_noise, (32,))
            state, info = teacher.update(state, OBS, tasks, rewards)
            return state, info["entropy"]

        state, entropy = jax.lax.scan(step, state, jax.random.split(key, 300))
        return teacher.probs(state, OBS), entropy

    probs, entropy = jax.jit(jax.vmap(run))(jax.random.split(jax.random.PRNGKey(0), 32))
    assert np.mean(np.argmax(probs, -1) == 3) >= 0.9
    assert np.mean(probs[:, 3]) > 0.6
    assert np.mean(entropy[:, -1]) < np.mean(entropy[:, 0]) - 0.5


def test_entropy_bonus_keeps_the_policy_spread():
    def final_entropy(coef):
        teacher = reinforce_teacher(4, hidden=(8,), learning_rate=1e-2, entropy_coef=coef)

        def step(state, key):
            tasks = teacher.act(state, OBS, key, 16)
            state, info = teacher.update(state, OBS, tasks, (tasks == 0).astype(jnp.float32))
            return state, info["entropy"]

        state = teacher.init(jax.random.PRNGKey(0), OBS)
        _, entropy = jax.jit(lambda s, k: jax.lax.scan(step, s, k))(
            state, jax.random.split(jax.random.PRNGKey(1), 200))
        return float(entropy[-1])

    assert final_entropy(1.0) > final_entropy(0.0) + 0.3


def test_uniform_teacher():
    teacher = uniform_teacher(7)
    state = teacher.init(jax.random.PRNGKey(0), OBS)
    tasks = np.asarray(teacher.act(state, OBS, jax.random.PRNGKey(1), 70000))
    counts = np.bincount(tasks, minlength=7)
    assert np.all(np.abs(counts - 10000) < 5 * np.sqrt(70000 / 7 * 6 / 7))
    np.testing.assert_allclose(teacher.probs(state, OBS), np.full(7, 1 / 7))
    assert teacher.update(state, OBS, tasks, tasks)[0] == state


def test_unknown_baseline_is_rejected():
    with pytest.raises(ValueError, match="baseline: got 'median'"):
        reinforce_teacher(3, baseline="median")


def test_the_interface_example_runs():
    import doctest

    result = doctest.testmod(base)
    assert result.attempted >= 8 and result.failed == 0
