"""PLR's episode scores against explicit NumPy loops: the positive value loss (mean positive
GAE) and MaxMC, over the first ``length`` steps of padded arrays."""

import numpy as np

from jaxcurr.signals.episode_scores import max_mc, positive_value_loss


def _gae_numpy(rewards, values, next_values, gamma, lam):
    out = []
    for t in range(len(rewards)):
        out.append(sum((gamma * lam) ** (k - t) * (rewards[k] + gamma * next_values[k]
                                                    - values[k])
                       for k in range(t, len(rewards))))
    return np.array(out)


def test_positive_value_loss_matches_numpy():
    rng = np.random.default_rng(0)
    rewards, values, next_values = rng.standard_normal((3, 40))
    for length in (1, 17, 40):
        gae = _gae_numpy(rewards[:length], values[:length], next_values[:length], 0.99, 0.95)
        expected = np.maximum(gae, 0).mean()
        got = positive_value_loss(rewards, values, next_values, length, 0.99, 0.95)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_max_mc_matches_numpy():
    values = np.random.default_rng(1).standard_normal(30)
    np.testing.assert_allclose(max_mc(values, 12, 3.5), np.mean(3.5 - values[:12]), rtol=1e-6)
