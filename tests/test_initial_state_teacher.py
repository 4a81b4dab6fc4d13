"""The initial-state teacher and start spaces: valid starts only (a maze's nearest free cells,
Relocate's reset ranges), the two squashes against their formulas, and the REINFORCE and
baseline updates against a hand computation of the output-bias gradients and Adam's first
step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcurr.envs.start_spaces import nearest_cell
from jaxcurr.teachers import initial_state as ist

# a U-shaped maze: walls everywhere except row 1, row 3 and column 1 (rows 1-3)
GRID = np.ones((5, 5), np.int32)
GRID[1, 1:4] = GRID[3, 1:4] = GRID[1:4, 1] = 0
FREE = np.argwhere(GRID == 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=4, max_size=4))
def test_any_action_maps_to_the_nearest_free_cell(raw):
    raw = jnp.asarray(raw, jnp.float32)
    goal, reset = (nearest_cell(raw[:2], FREE, GRID.shape),
                   nearest_cell(raw[2:], FREE, GRID.shape))
    raw = np.asarray(raw).tolist()
    for cell, x in ((goal, raw[:2]), (reset, raw[2:])):
        assert GRID[tuple(np.asarray(cell))] == 0
        point = np.clip(np.asarray(x, np.float32), 0, 1) * np.array(GRID.shape, np.float32)
        distances = np.sum((FREE + 0.5 - point) ** 2, axis=1)
        assert np.sum((np.asarray(cell) + 0.5 - point) ** 2) == pytest.approx(
            distances.min(), abs=1e-4)


def test_returns_to_go_and_normalised_advantages():
    rewards = jnp.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(ist.returns_to_go(rewards), [7.0, 6.0, 4.0])
    adv = np.asarray(ist.normalized_advantages(jnp.array([7.0, 6.0, 4.0]),
                                               jnp.array([1.0, 1.0, 1.0])))
    a = np.array([6.0, 5.0, 3.0])
    # float32 mean, std and division: a few ulps (about 1e-6 relative) from float64
    np.testing.assert_allclose(adv, (a - a.mean()) / (a.std() + 1e-8), rtol=1e-5)


def _np_mlp(params, x):
    p = params["params"]
    h = np.tanh(x @ np.asarray(p["Dense_0"]["kernel"]) + np.asarray(p["Dense_0"]["bias"]))
    h = np.tanh(h @ np.asarray(p["Dense_1"]["kernel"]) + np.asarray(p["Dense_1"]["bias"]))
    return h @ np.asarray(p["Dense_2"]["kernel"]) + np.asarray(p["Dense_2"]["bias"])


def test_reinforce_and_baseline_steps_against_hand_computation():
    """k = 3 episodes, one policy and one baseline Adam step. Output-bias gradients by hand:
    policy ``dL/db_j = -mean_t A_t (x_tj - mu_tj) / sigma^2 * mu_tj (1 - mu_tj)``, baseline
    ``dL/dc = 2 mean_t (V_t - G_t)``; Adam's first step moves a parameter by
    ``-lr * g / (|g| + 1e-8)``."""
    lr, std = 5e-3, 0.7
    teacher = ist.start_teacher(4, 5, hidden=(8, 8), learning_rate=lr, std=std,
                                episodes_per_trajectory=3, baseline_steps=1, updates=1)
    state = teacher.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(3, 5)).astype(np.float32)
    rewards = np.array([0.5, 2.0, 1.0], np.float32)
    raws = []
    for t in range(3):
        raw, unit = teacher.act(state, jnp.asarray(obs[t]), jax.random.PRNGKey(10 + t))
        np.testing.assert_array_equal(unit, np.clip(raw, 0, 1))
        raws.append(np.asarray(raw, np.float64))
        before = state
        state, info = teacher.observe(state, jnp.asarray(obs[t]), raw, jnp.float32(rewards[t]))
        if t < 2:  # nothing learned before the trajectory is complete
            assert int(state.filled) == t + 1 and np.isnan(float(info["policy_loss"]))
            for a, b in zip(jax.tree.leaves(state.policy), jax.tree.leaves(before.policy),
                            strict=True):
                np.testing.assert_array_equal(a, b)
    assert int(state.filled) == 0
    x = np.stack(raws)
    returns = np.cumsum(rewards[::-1])[::-1].astype(np.float64)
    values = _np_mlp(before.baseline, obs.astype(np.float64))[:, 0]
    adv = returns - values
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    mu = 1 / (1 + np.exp(-_np_mlp(before.policy, obs.astype(np.float64))))
    grad_policy_bias = -np.mean(adv[:, None] * (x - mu) / std**2 * mu * (1 - mu), axis=0)
    grad_baseline_bias = 2 * np.mean(values - returns)

    def moved(new, old):
        return np.asarray(new["params"]["Dense_2"]["bias"]) - np.asarray(
            old["params"]["Dense_2"]["bias"])

    np.testing.assert_allclose(moved(state.policy, before.policy),
                               -lr * grad_policy_bias / (np.abs(grad_policy_bias) + 1e-8),
                               rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(moved(state.baseline, before.baseline),
                               [-lr * np.sign(grad_baseline_bias)], rtol=1e-3)


@pytest.mark.parametrize("field, value", [("episodes_per_trajectory", 0),
                                          ("baseline_steps", 1.5), ("updates", -1)])
def test_bad_teacher_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^teacher.{field}: got"):
        ist.start_teacher(4, 5, **{field: value})


def test_squashes_match_their_formulas_and_the_cdf_spreads_starts():
    """``clip`` piles a Gaussian's tails on the faces of the cube; ``Phi((x - 0.5) / sigma)``
    makes the teacher's initial starts (mean 0.5) uniform: KS against U(0, 1)."""
    from scipy import stats

    raw = 0.5 + 0.7 * np.random.default_rng(0).normal(size=20_000).astype(np.float32)
    clipped = np.asarray(ist.squash(jnp.asarray(raw), "clip", 0.7))
    cdf = np.asarray(ist.squash(jnp.asarray(raw), "gaussian_cdf", 0.7))
    np.testing.assert_array_equal(clipped, np.clip(raw, 0, 1))
    np.testing.assert_allclose(cdf, stats.norm.cdf((raw - 0.5) / 0.7), atol=1e-6)
    at_faces = np.mean((clipped == 0) | (clipped == 1))
    assert at_faces == pytest.approx(2 * stats.norm.cdf(-0.5 / 0.7), abs=0.01)  # 0.475
    assert stats.kstest(cdf, "uniform").pvalue > 0.01
    with pytest.raises(ValueError, match="^teacher.squash: got 'tanh'"):
        ist.start_teacher(4, 5, squash_kind="tanh")
