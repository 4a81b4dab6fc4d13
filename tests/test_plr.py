"""Robust PLR (Jiang et al. 2021): the replay distribution and the buffer's updates against a
NumPy loop, sampling against its distribution, and a non-stationary set of high-regret levels
that the replays must follow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.teachers.plr import PLRState, plr_teacher


def _numpy_probs(levels, scores, last_seen, count, beta, rho):
    filled = levels >= 0
    idx = [i for i in sorted(np.flatnonzero(filled), key=lambda i: (-scores[i], i))]
    h = np.zeros(len(levels))
    for r, i in enumerate(idx, start=1):
        h[i] = (1.0 / r) ** (1.0 / beta)
    age = np.where(filled, count - last_seen, 0.0)
    return (1 - rho) * h / h.sum() + rho * age / age.sum()


def test_replay_probabilities_match_numpy():
    teacher = plr_teacher(50, buffer_size=6, temperature=0.3, staleness=0.3)
    levels = np.array([4, -1, 9, 2, 7, 11])
    scores = np.array([0.5, 0.0, 2.0, 0.5, -1.0, 1.0])  # a tie: slot 0 ranks before slot 3
    last_seen = np.array([3.0, 0.0, 9.0, 1.0, 5.0, 7.0])
    state = PLRState(jnp.asarray(levels, jnp.int32), jnp.asarray(scores, jnp.float32),
                     jnp.asarray(last_seen, jnp.float32), jnp.asarray(10))
    np.testing.assert_allclose(teacher.replay_probs(state),
                               _numpy_probs(levels, scores, last_seen, 10, 0.3, 0.3), rtol=1e-5)


def test_buffer_updates_match_numpy():
    """Insert into empty slots, update a level in place, replace the lowest score only when
    beaten."""
    teacher = plr_teacher(20, buffer_size=3)
    state = teacher.init(jax.random.key(0))
    rng = np.random.default_rng(0)
    buffer = {}  # level -> [score, last_seen]
    order = []  # slot order of the NumPy buffer
    for t in range(30):
        level = int(rng.integers(0, 8))
        score = float(rng.standard_normal())
        state, _ = teacher.observe(state, level, score)
        if level in buffer:
            buffer[level] = [score, t]
        elif len(order) < 3:
            order.append(level)
            buffer[level] = [score, t]
        else:
            lowest = min(range(3), key=lambda s: (buffer[order[s]][0], s))
            if score > buffer[order[lowest]][0]:
                del buffer[order[lowest]]
                order[lowest] = level
                buffer[level] = [score, t]
        n = len(order)
        np.testing.assert_array_equal(state.levels, order + [-1] * (3 - n))
        np.testing.assert_allclose(state.scores[:n], [buffer[v][0] for v in order], rtol=1e-6)
        np.testing.assert_array_equal(state.last_seen[:n], [buffer[v][1] for v in order])


def test_samples_follow_the_replay_distribution():
    teacher = plr_teacher(1000, buffer_size=4, replay_prob=0.7)
    state = PLRState(jnp.array([10, 20, 30, 40], jnp.int32), jnp.array([3.0, 1.0, 2.0, 0.0]),
                     jnp.array([0.0, 1.0, 2.0, 3.0]), jnp.asarray(4))
    levels, replayed = jax.vmap(teacher.sample, in_axes=(None, 0))(
        state, jax.random.split(jax.random.key(1), 40_000))
    levels, replayed = np.asarray(levels), np.asarray(replayed)
    assert abs(replayed.mean() - 0.7) < 0.01  # sd 0.0023
    counts = np.array([(levels[replayed] == v).mean() for v in (10, 20, 30, 40)])
    np.testing.assert_allclose(counts, teacher.replay_probs(state), atol=0.01)


def test_plr_follows_the_levels_with_high_regret():
    """40 levels; levels 0-4 score about 1 in phase 1, levels 20-24 in phase 2, all others
    about 0.1 (noise sd 0.05). Late in each phase the replays pick the high-regret levels
    (1/8 of the levels) most of the time, for every seed."""
    teacher = plr_teacher(40, buffer_size=16, replay_prob=0.5, temperature=0.3, staleness=0.1)
    phase = 600

    def episode(carry, t):
        state, key = carry
        key, k_sample, k_noise = jax.random.split(key, 3)
        level, replayed = teacher.sample(state, k_sample)
        first = 20 * (t // phase)
        high = (level >= first) & (level < first + 5)
        score = jnp.where(high, 1.0, 0.1) + 0.05 * jax.random.normal(k_noise)
        state, _ = teacher.observe(state, level, score)
        return (state, key), (high, replayed)

    def run(key):
        return jax.lax.scan(episode, (teacher.init(key), key), jnp.arange(2 * phase))[1]

    high, replayed = (np.asarray(a) for a in jax.jit(jax.vmap(run))(
        jax.random.split(jax.random.key(2), 4)))
    for part in (slice(phase // 2, phase), slice(phase + phase // 2, 2 * phase)):
        h, r = high[:, part], replayed[:, part]
        share = (h & r).sum(1) / r.sum(1)
        assert np.all(share > 0.6), share  # measured 0.87-0.94


@pytest.mark.parametrize("kwargs, field", [
    ({"num_levels": 1}, "teacher.num_levels"),
    ({"buffer_size": 100}, "teacher.plr_buffer_size"),
    ({"replay_prob": 1.5}, "teacher.plr_replay_prob"),
    ({"temperature": 0.0}, "teacher.plr_temperature"),
])
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}: got"):
        plr_teacher(**{"num_levels": 50, "buffer_size": 8, **kwargs})
