"""ALP-GMM (Portelas et al. 2019): EM against scikit-learn's GaussianMixture from the same
start, ALP against a NumPy nearest-neighbour loop, and a non-stationary task space where the
teacher must follow the region that is improving."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.teachers.alp_gmm import aic, alp_gmm_teacher, em_fit


@pytest.mark.parametrize("k", [2, 3])
def test_em_matches_scikit_learn_from_the_same_start(k):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    centres = np.array([[0.2, 0.2, 0.1], [0.8, 0.3, 0.5], [0.5, 0.9, 0.0]])
    x = np.concatenate([c + 0.05 * rng.standard_normal((40, 3)) for c in centres])
    mask = np.ones(len(x), bool)
    mask[::7] = False  # entries outside the fit window
    max_k, iters = 4, 6
    init_means = x[mask][rng.choice(mask.sum(), max_k, replace=False)]
    active = np.arange(max_k) < k
    fit = jax.jit(em_fit, static_argnums=4)
    mixture, log_l = fit(jnp.asarray(x, jnp.float32), jnp.asarray(mask),
                         jnp.asarray(init_means, jnp.float32), jnp.asarray(active), iters)

    data = x[mask]
    cov = np.cov(data.T, bias=True) + 1e-4 * np.eye(3)
    ref = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, max_iter=iters, tol=0.0,
                          weights_init=np.full(k, 1 / k), means_init=init_means[:k],
                          precisions_init=np.stack([np.linalg.inv(cov)] * k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(data)
    np.testing.assert_allclose(mixture.weights[:k], ref.weights_, atol=1e-4)
    np.testing.assert_array_equal(mixture.weights[k:], 0.0)
    np.testing.assert_allclose(mixture.means[:k], ref.means_, atol=1e-4)
    np.testing.assert_allclose(mixture.covs[:k], ref.covariances_, atol=1e-4)
    np.testing.assert_allclose(float(aic(log_l, k, 3)), ref.aic(data), rtol=1e-4)


def test_alp_is_the_distance_to_the_nearest_earlier_tasks_score():
    teacher = alp_gmm_teacher([0.0, -1.0], [2.0, 1.0], max_components=2, fit_every=1000,
                              fit_window=4, history=4)
    state, observe = teacher.init(jax.random.key(0)), jax.jit(teacher.observe)
    rng = np.random.default_rng(1)
    tasks = rng.uniform([0, -1], [2, 1], (9, 2))
    scores = rng.standard_normal(9)
    history = []  # (unit task, score), the last 4 (the ring buffer)
    for t, (task, score) in enumerate(zip(tasks, scores, strict=True)):
        state, info = observe(state, jnp.asarray(task), score, jax.random.key(t))
        unit = (task - [0, -1]) / 2
        if history:
            nearest = min(history, key=lambda h: np.sum((h[0] - unit) ** 2))
            expected = abs(score - nearest[1])
        else:
            expected = 0.0
        np.testing.assert_allclose(float(info["alp"]), expected, rtol=1e-5, atol=1e-6)
        history = (history + [(unit, score)])[-4:]


def test_alp_gmm_follows_the_region_that_improves():
    """Task space [0, 1]^2 in two halves, A (x < 0.5) and B (x >= 0.5). A task's score is its
    half's competence plus noise (sd 0.01); competence rises by 0.005 with each episode spent
    in the half that is improving, up to 1: A in phase 1, B in phase 2 (800 episodes each).
    Over the second half of each phase the improving half gets well above its uniform share
    (0.5; sd of a uniform teacher's share over 400 episodes 0.025), for every seed."""
    teacher = alp_gmm_teacher([0.0, 0.0], [1.0, 1.0], max_components=4, fit_every=40,
                              fit_window=120, history=400, em_iters=10, random_share=0.2)
    phase = 800

    def episode(carry, t):
        state, level, key = carry
        key, k_sample, k_noise = jax.random.split(key, 3)
        task = teacher.sample(state, k_sample)
        half = jnp.stack([task[0] < 0.5, task[0] >= 0.5])
        improving = jnp.arange(2) == t // phase
        level = jnp.minimum(level + 0.005 * (half & improving), 1.0)
        score = jnp.sum(half * level) + 0.01 * jax.random.normal(k_noise)
        state, _ = teacher.record(state, task, score)
        return (state, level, key), jnp.any(half & improving)

    def block(carry, ts):  # fit_every episodes, then the refit that is due (as observe does)
        carry, inside = jax.lax.scan(episode, carry, ts)
        state, level, key = carry
        key, k_fit = jax.random.split(key)
        return (teacher.refit(state, k_fit), level, key), inside

    def run(key):
        carry = (teacher.init(key), jnp.zeros(2), key)
        return jax.lax.scan(block, carry, jnp.arange(2 * phase).reshape(-1, 40))[1].ravel()

    inside = np.asarray(jax.jit(jax.vmap(run))(jax.random.split(jax.random.key(3), 4)))
    share = np.stack([inside[:, phase // 2:phase].mean(1),
                      inside[:, phase + phase // 2:].mean(1)])  # [phase, seed]
    assert np.all(share > 0.65), share  # measured 0.71-0.88 over 8 seeds


@pytest.mark.parametrize("kwargs, field", [
    ({"low": [0.0, 1.0], "high": [1.0, 1.0]}, "teacher.alp_task_box"),
    ({"max_components": 1}, "teacher.alp_max_components"),
    ({"fit_window": 5000}, "teacher.alp_fit_window"),
    ({"random_share": 1.5}, "teacher.alp_random_share"),
])
def test_bad_settings_name_the_field(kwargs, field):
    values = {"low": [0.0, 0.0], "high": [1.0, 1.0], **kwargs}
    with pytest.raises(ConfigError, match=f"^{field}: got"):
        alp_gmm_teacher(**values)
