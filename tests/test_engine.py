"""The teacher-student engine: shapes, vmap over seeds, bounded memory, and learning claims."""

import functools

import jax
import numpy as np
import pytest

from jaxcurr.core.stats import mean_ci
from jaxcurr.curricula import make_engine, make_train, prepare_data
from jaxcurr.curricula.classifier_config import config_from_dict
from jaxcurr.datasets.classification import load_dataset


def _setup(values):
    config = config_from_dict(values)
    return config, prepare_data(load_dataset(config.data), config)


def test_metrics_shapes_and_ranges(tiny_config):
    config, data = _setup(tiny_config())
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    metrics = jax.jit(jax.vmap(make_train(config), in_axes=(0, None)))(keys, data)
    assert set(metrics) == set(config.run.methods)
    for method, m in metrics.items():
        assert m["group_loss"].shape == (2, 4, 4)
        assert m["task_probs"].shape == (2, 4, 10)
        np.testing.assert_allclose(np.sum(m["group_share"], -1), 1, rtol=1e-6)
        np.testing.assert_allclose(np.sum(m["task_probs"], -1), 1, rtol=1e-5)
        assert np.all(np.isfinite(m["group_loss"])) and np.all(m["mean_reward"] >= 0)
        if method == "uniform":
            np.testing.assert_allclose(m["teacher_entropy"], np.log(10), rtol=1e-6)


def test_vmap_over_seeds_equals_separate_runs(tiny_config):
    config, data = _setup(tiny_config(run={"methods": ["momentum_correlation"], "steps": 20}))
    train = make_train(config)
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    together = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, data)
    for i, key in enumerate(keys):
        alone = jax.jit(train)(key, data)
        for name, value in alone["momentum_correlation"].items():
            np.testing.assert_allclose(together["momentum_correlation"][name][i], value,
                                       rtol=2e-4, atol=1e-5, err_msg=name)


def test_memory_does_not_grow_with_steps(tiny_config):
    """The compiled program's scratch memory is the same for 10x the steps; only the logged
    metrics (the output) grow."""
    sizes = {}
    for steps in (40, 400):
        config, data = _setup(tiny_config(run={"steps": steps}))
        engine = make_engine(config)
        state = engine.init(jax.random.PRNGKey(0), data)
        run = functools.partial(engine.run, num_windows=engine.num_windows)
        compiled = jax.jit(run).lower(state, data, {}).compile()
        analysis = compiled.memory_analysis()
        sizes[steps] = (analysis.temp_size_in_bytes, analysis.output_size_in_bytes)
    assert sizes[400][0] <= sizes[40][0] * 1.05 + 4096
    metrics_growth = sizes[400][1] - sizes[40][1]
    assert 0 < metrics_growth < 40 * 1024  # 36 more windows of small per-window metrics


def test_uniform_sampling_share_follows_the_class_count_of_each_group(tiny_config):
    config, data = _setup(tiny_config(run={"methods": ["uniform"], "steps": 200,
                                           "log_every": 200, "batch_size": 64}))
    metrics = jax.jit(make_train(config))(jax.random.PRNGKey(1), data)
    share = np.asarray(metrics["uniform"]["group_share"][-1])
    # 12,800 draws over classes uniformly: group g gets |g|/10; 5 sd margin
    expected = np.array([1, 2, 3, 4]) / 10
    assert np.all(np.abs(share - expected) < 5 * np.sqrt(expected * (1 - expected) / 12800))


def test_curiosity_under_noise_prefers_the_noisiest_group(tiny_config):
    """Paper claim (Blad & Loutfi 2025, Sec. 3.2): curiosity locks onto the noisiest group.

    In noise mode the group {6,7,8,9} has the highest loss floor (log 4), so over 6 fixed seeds
    the curiosity teacher's share of it in the second half of training must exceed that of
    every other group, with the 95% interval of the difference above 0. (A teacher 10x faster
    than the default keeps the run CI-sized. Over the seed sets PRNGKey(0..3) the smallest
    difference, against {3,4,5}, was 0.22-0.31 with interval half-widths 0.04-0.19.)
    """
    values = tiny_config(data={"label_mode": "noise"},
                         teacher={"tasks": "group", "learning_rate": 3e-3},
                         run={"methods": ["curiosity"], "steps": 2000, "log_every": 100,
                              "batch_size": 32, "seeds": 6})
    config, data = _setup(values)
    keys = jax.random.split(jax.random.PRNGKey(0), 6)
    metrics = jax.jit(jax.vmap(make_train(config), in_axes=(0, None)))(keys, data)
    share = np.asarray(metrics["curiosity"]["group_share"])[:, 10:].mean(1)  # [seeds, groups]
    for other in range(3):
        mean, half = mean_ci(share[:, 3] - share[:, other])
        assert mean - half > 0, (other, share.mean(0))
    # and it is far from the uniform teacher's 1/4
    assert share[:, 3].mean() > 0.5


@pytest.mark.parametrize("moments", ["before", "after"])
def test_signal_options_run(tiny_config, moments):
    config, data = _setup(tiny_config(
        signal={"moments": moments, "denominator": "sqrt_v", "eps": 1e-8,
                "bias_correction": True},
        run={"methods": ["momentum_correlation"], "steps": 20}))
    metrics = jax.jit(make_train(config))(jax.random.PRNGKey(0), data)
    assert np.all(np.asarray(metrics["momentum_correlation"]["mean_reward"]) > 0)
