"""Signals against explicit per-sample gradients computed one sample at a time."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.signals import per_sample as signals
from jaxcurr.students import MLPClassifier, per_sample_cross_entropy


def _student(seed, hidden=(7, 5), dim=6, classes=4, batch=9, adam_steps=3, chain=None):
    """A random MLP, a batch, and an optimizer state after a few random Adam updates."""
    key = jax.random.PRNGKey(seed)
    k_init, k_x, k_y, k_g = jax.random.split(key, 4)
    model = MLPClassifier(hidden, classes)
    params = model.init(k_init, jnp.zeros((1, dim)))
    x = jax.random.normal(k_x, (batch, dim))
    y = jax.random.randint(k_y, (batch,), 0, classes)
    tx = chain or optax.adam(1e-2)
    opt_state = tx.init(params)
    for k in jax.random.split(k_g, adam_steps):
        fake = jax.tree_util.tree_map(
            lambda p, kk=k: jax.random.normal(kk, p.shape) * 0.1, params)
        _, opt_state = tx.update(fake, opt_state, params)

    def loss_fn(p, batch_xy):
        bx, by = batch_xy
        return per_sample_cross_entropy(model.apply(p, bx), by)

    return loss_fn, params, (x, y), opt_state


def _explicit_grads(loss_fn, params, batch):
    """Per-sample gradients by a Python loop of jax.grad on one sample at a time (float64)."""
    x, y = batch
    out = []
    for b in range(len(y)):
        g = jax.grad(lambda p, b=b: loss_fn(p, (x[b:b + 1], y[b:b + 1]))[0])(params)
        out.append(np.concatenate([np.ravel(np.asarray(v, np.float64))
                                   for v in jax.tree_util.tree_leaves(g)]))
    return np.stack(out)


def _flat(tree):
    return np.concatenate([np.ravel(np.asarray(v, np.float64))
                           for v in jax.tree_util.tree_leaves(tree)])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("denominator", "eps", "bias_correction"),
                         [("v", 0.0, False), ("sqrt_v", 1e-8, False), ("v", 1e-6, True)])
def test_momentum_correlation_jvp_equals_per_sample_dot_products(seed, denominator, eps,
                                                                bias_correction):
    loss_fn, params, batch, opt_state = _student(seed)
    adam = signals.find_adam_state(opt_state)
    m, v = _flat(adam.mu), _flat(adam.nu)
    t = int(adam.count)
    if bias_correction:
        m, v = m / (1 - 0.9**t), v / (1 - 0.999**t)
    denom = (v if denominator == "v" else np.sqrt(v)) + eps
    u = np.where(denom > 0, m / np.where(denom > 0, denom, 1), 0)
    expected = np.abs(_explicit_grads(loss_fn, params, batch) @ u)

    signal = signals.momentum_correlation(denominator, eps, bias_correction)
    got = np.asarray(jax.jit(signal, static_argnums=0)(loss_fn, params, batch, opt_state))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-6 * np.abs(expected).max())


def test_momentum_correlation_is_zero_before_any_update():
    loss_fn, params, batch, opt_state = _student(0, adam_steps=0)
    got = signals.momentum_correlation()(loss_fn, params, batch, opt_state)
    np.testing.assert_array_equal(np.asarray(got), 0.0)


def test_gradient_norm_equals_explicit_per_sample_gradients():
    loss_fn, params, batch, opt_state = _student(3)
    expected = np.linalg.norm(_explicit_grads(loss_fn, params, batch), axis=1)
    got = signals.gradient_norm()(loss_fn, params, batch, opt_state)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


def test_loss_and_uniform_signals():
    loss_fn, params, batch, opt_state = _student(4)
    np.testing.assert_allclose(signals.loss()(loss_fn, params, batch, opt_state),
                               loss_fn(params, batch))
    assert np.all(np.asarray(signals.uniform()(loss_fn, params, batch, opt_state)) == 0)


@pytest.mark.parametrize("chain", [
    optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3)),
    optax.inject_hyperparams(optax.adam)(learning_rate=1e-3),
    optax.adamw(1e-3),
])
def test_adam_moments_are_found_in_any_chain(chain):
    loss_fn, params, batch, opt_state = _student(5, chain=chain)
    adam = signals.find_adam_state(opt_state)
    assert int(adam.count) == 3
    assert np.all(np.isfinite(np.asarray(
        signals.momentum_correlation()(loss_fn, params, batch, opt_state))))


def test_chain_without_adam_is_a_clear_error():
    loss_fn, params, batch, opt_state = _student(6, chain=optax.sgd(1e-2, momentum=0.9))
    with pytest.raises(ValueError, match="scale_by_adam"):
        signals.momentum_correlation()(loss_fn, params, batch, opt_state)


def test_prediction_gains_against_explicit_computations():
    """Prediction gain: each sample's loss before minus after a given step; gradient
    prediction gain: the squared per-sample gradient norm (Graves et al. 2017)."""
    loss_fn, params, batch, opt_state = _student(6)
    new_params = jax.tree_util.tree_map(lambda p: p - 0.05 * jnp.sign(p), params)
    gain = signals.prediction_gain()
    want = [float(loss_fn(params, (batch[0][b:b + 1], batch[1][b:b + 1]))[0]
                  - loss_fn(new_params, (batch[0][b:b + 1], batch[1][b:b + 1]))[0])
            for b in range(len(batch[1]))]
    np.testing.assert_allclose(gain.after_step(loss_fn, params, new_params, batch), want,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="^signal: this signal is read from the student's step"):
        gain(loss_fn, params, batch, opt_state)
    squared = np.linalg.norm(_explicit_grads(loss_fn, params, batch), axis=1) ** 2
    gpg = signals.gradient_prediction_gain()
    np.testing.assert_allclose(gpg(loss_fn, params, batch, opt_state), squared, rtol=1e-5)
    np.testing.assert_allclose(gpg.with_step(loss_fn, params, batch)[2], squared, rtol=1e-5)
