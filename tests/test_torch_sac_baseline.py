"""Smoke test of the PyTorch Discrete-SAC baseline: its NumPy Four Rooms matches jaxcurr's."""

import importlib.util
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr.envs.four_rooms import EnvParams, policy_discounted_return, transition_table

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "torch_baselines" / "sac_fourrooms.py"



@pytest.fixture(scope="module")
def sac():
    spec = importlib.util.spec_from_file_location("sac_fourrooms", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_env_agrees_with_jax_transition_table(sac):
    env = sac.FourRoomsEnv(np.random.default_rng(0))
    probs, reward, terminal = env.table()
    table = transition_table(EnvParams())
    np.testing.assert_array_equal(env.cells, table.cells)
    np.testing.assert_allclose(probs, table.probs, atol=1e-6)
    np.testing.assert_allclose(reward, table.rewards, atol=1e-6)
    np.testing.assert_array_equal(terminal, table.terminal)
    assert env.start == int(table.start)
    policy = np.random.default_rng(1).dirichlet(np.ones(4), size=env.num_states)
    want = policy_discounted_return(EnvParams(), jnp.asarray(policy, jnp.float32), 0.99)
    assert env.policy_return(policy, 0.99) == pytest.approx(float(want), rel=1e-4)


def test_numpy_env_step_samples_its_table(sac):
    """20k steps from cell (2, 2) per action: frequencies within 4.5 binomial sigmas."""
    env = sac.FourRoomsEnv(np.random.default_rng(2))
    probs, _, _ = env.table()
    s = int(np.flatnonzero((env.cells == (2, 2)).all(1))[0])
    n = 20_000
    for a in range(4):
        counts = np.zeros(env.num_states)
        for _ in range(n):
            env.state, env.time = s, 0
            counts[env.step(a)[0]] += 1
        bound = 4.5 * np.sqrt(probs[s, a] * (1 - probs[s, a]) / n) + 1e-12
        assert np.all(np.abs(counts / n - probs[s, a]) <= bound)


def test_short_run_updates_and_reports(sac, one_torch_thread):
    """Grokfast and GrAdE both on: every code path of an update runs."""
    cfg = sac.Config(random_steps=150, batch_size=32, hidden=32, eval_every=1)
    result = sac.run("both", 0, 5, max_env_steps=250, cfg=cfg, log=None)
    assert result["env_steps"] == 250 and result["updates"] == 101
    assert -100 <= result["final_greedy_disc_return"] <= 0
    assert -100 <= result["final_policy_disc_return"] <= 0
    assert all(math.isfinite(r) for r in result["train_disc_returns"])
    with pytest.raises(ValueError, match="variant"):
        sac.run("sgd", 0, 1, cfg=cfg, log=None)
