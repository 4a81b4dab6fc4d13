"""Per-sample gradient norms (ghost identity and vmap fallback) against explicit per-sample
gradients computed one sample at a time in a Python loop."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxcurr.signals import per_sample as signals
from jaxcurr.signals import per_sample_norms as psn
from jaxcurr.students import MLPClassifier, per_sample_cross_entropy


def _loop_norms(loss_fn, params, batch):
    """||grad l_b|| by jax.grad on each sample alone, accumulated in float64."""
    size = jax.tree_util.tree_leaves(batch)[0].shape[0]
    grad_one = jax.jit(jax.grad(lambda p, one: loss_fn(p, one)[0]))
    norms = []
    for b in range(size):
        one = jax.tree_util.tree_map(lambda x, b=b: x[b:b + 1], batch)
        grads = grad_one(params, one)
        norms.append(np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2)
                                 for g in jax.tree_util.tree_leaves(grads))))
    return np.array(norms)


def _classifier(seed, hidden, dim, classes, batch):
    k_init, k_x, k_y = jax.random.split(jax.random.PRNGKey(seed), 3)
    model = MLPClassifier(tuple(hidden), classes)
    params = model.init(k_init, jnp.zeros((1, dim)))
    x = jax.random.normal(k_x, (batch, dim)) * 2.0
    y = jax.random.randint(k_y, (batch,), 0, classes)

    def loss_fn(p, xy):
        return per_sample_cross_entropy(model.apply(p, xy[0]), xy[1])

    return loss_fn, params, (x, y)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), hidden=st.lists(st.integers(1, 9), min_size=0, max_size=3),
       dim=st.integers(1, 8), classes=st.integers(2, 5), batch=st.integers(1, 7))
@example(seed=1350, hidden=[2, 1], dim=8, classes=2, batch=5)
def test_ghost_norms_equal_explicit_per_sample_gradients_on_random_mlps(
        seed, hidden, dim, classes, batch):
    """float32 against float32 per-sample gradients: the error is a few float32 ulps of the
    batch's gradient scale, so a norm far below the batch's largest is compared absolutely at
    1e-5 of that scale (seed 1350: 1.3e-6 on a norm of 0.0135 beside one of 1.68)."""
    loss_fn, params, xy = _classifier(seed, hidden, dim, classes, batch)
    assert psn.ghost_calls(loss_fn, params, xy) is not None
    expected = _loop_norms(loss_fn, params, xy)
    for method in ("ghost", "vmap", "auto"):
        got = jax.jit(psn.per_sample_grad_norms, static_argnums=(0, 3))(
            loss_fn, params, xy, method)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=2e-5,
                                   atol=1e-5 * expected.max())


class _NoBiasSequence(nn.Module):
    """Dense layers without bias applied to [B, T, in] rows: the Gram form of the identity."""

    widths: tuple[int, ...]

    @nn.compact
    def __call__(self, x):
        for i, width in enumerate(self.widths):
            x = nn.Dense(width, use_bias=i % 2 == 1)(x)
            x = jnp.tanh(x)
        return jnp.sum(x ** 2, axis=(1, 2))


@pytest.mark.parametrize("steps, widths", [(3, (4, 6)), (5, (1, 2)), (2, (16, 16))])
def test_ghost_norms_for_sequence_inputs_both_forms(steps, widths):
    """T > 1 rows per sample: Gram form (T^2 <= in*out) and explicit form (T^2 > in*out)."""
    model = _NoBiasSequence(widths)
    x = jax.random.normal(jax.random.PRNGKey(steps), (4, steps, 3))
    params = model.init(jax.random.PRNGKey(1), x)

    def loss_fn(p, batch):
        return model.apply(p, batch)

    assert psn.ghost_calls(loss_fn, params, x) is not None
    np.testing.assert_allclose(np.asarray(psn.per_sample_grad_norms(loss_fn, params, x, "ghost")),
                               _loop_norms(loss_fn, params, x), rtol=2e-5, atol=1e-7)


class _ConvNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(3, (3,))(x))
        return nn.Dense(2)(x.reshape(x.shape[0], -1))


class _SharedLayer(nn.Module):
    @nn.compact
    def __call__(self, x):
        layer = nn.Dense(x.shape[-1])
        return layer(jnp.tanh(layer(x)))


@pytest.mark.parametrize("model, shape", [(_ConvNet(), (5, 4, 2)), (_SharedLayer(), (5, 3))])
def test_models_outside_the_identity_fall_back_to_vmap_grad(model, shape):
    """A Conv layer (parameters not in a Dense) and a Dense called twice: not ghost-eligible;
    'auto' still returns the exact norms and 'ghost' says why it cannot."""
    x = jax.random.normal(jax.random.PRNGKey(0), shape)
    params = model.init(jax.random.PRNGKey(1), x)

    def loss_fn(p, batch):
        return jnp.sum(model.apply(p, batch) ** 2, axis=-1)

    assert psn.ghost_calls(loss_fn, params, x) is None
    np.testing.assert_allclose(np.asarray(psn.per_sample_grad_norms(loss_fn, params, x)),
                               _loop_norms(loss_fn, params, x), rtol=2e-5, atol=1e-7)
    with pytest.raises(ValueError, match="^method: 'ghost' needs"):
        psn.per_sample_grad_norms(loss_fn, params, x, "ghost")


def test_a_loss_without_flax_falls_back():
    params = {"w": jnp.arange(6.0).reshape(3, 2) / 7}
    x = jax.random.normal(jax.random.PRNGKey(2), (4, 3))

    def loss_fn(p, batch):
        return jnp.sum(jnp.sin(batch @ p["w"]), axis=-1)

    assert psn.ghost_calls(loss_fn, params, x) is None
    np.testing.assert_allclose(np.asarray(psn.per_sample_grad_norms(loss_fn, params, x)),
                               _loop_norms(loss_fn, params, x), rtol=2e-5, atol=1e-7)


def test_ghost_path_builds_no_per_sample_gradient_buffer():
    """At the paper's MNIST size, the ghost program's temporaries are far below the first
    layer's per-sample kernel gradients ([64, 784, 128] float32 = 25.7 MB); vmap(grad) holds
    them."""
    loss_fn, params, xy = _classifier(0, (128, 128), 784, 10, 64)
    per_sample_bytes = 64 * 784 * 128 * 4

    def temp_bytes(method):
        compiled = jax.jit(lambda p, b: psn.per_sample_grad_norms(loss_fn, p, b, method)).lower(
            params, xy).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    assert temp_bytes("ghost") < per_sample_bytes / 10
    assert temp_bytes("vmap") >= per_sample_bytes


def test_gradient_norm_signal_rejects_unknown_method():
    with pytest.raises(ValueError, match="^method: got 'fast'; allowed: auto, ghost, vmap$"):
        signals.gradient_norm("fast")


@pytest.mark.parametrize("name", ["loss", "gradient_norm"])
def test_signals_shared_with_the_training_step_equal_separate_passes(name):
    """``with_step`` gives the training step's mean loss and gradient and the signal's rewards
    from one pass; each equals the separately computed value."""
    loss_fn, params, xy = _classifier(5, (6, 4), 5, 3, 7)
    signal = signals.SIGNALS[name]()
    mean, grads, rewards = signal.with_step(loss_fn, params, xy)
    want_mean, want_grads = jax.value_and_grad(lambda p: jnp.mean(loss_fn(p, xy)))(params)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rewards, signal(loss_fn, params, xy, None), rtol=1e-5)
    assert signals.momentum_correlation().with_step is None


def test_bfloat16_student_keeps_float32_parameters_and_tracks_the_float32_one():
    """``precision="bfloat16"``: float32 parameters and logits; logits, gradient and ghost
    norms within bfloat16's rounding (8-bit mantissa: relative 2^-8 per operand) of the
    float32 model's on the same parameters."""
    _, params, (x, y) = _classifier(3, (32, 16), 20, 5, 16)
    full = MLPClassifier((32, 16), 5)
    half = MLPClassifier((32, 16), 5, "bfloat16")
    assert {p.dtype for p in jax.tree.leaves(half.init(jax.random.PRNGKey(0), x[:1]))} == {
        jnp.dtype(jnp.float32)}
    logits, reference = half.apply(params, x), full.apply(params, x)
    assert logits.dtype == jnp.float32
    scale = float(jnp.max(jnp.abs(reference)))
    assert float(jnp.max(jnp.abs(logits - reference))) < 3e-2 * scale
    assert float(jnp.max(jnp.abs(logits - reference))) > 0  # it did round

    def losses(model):
        return lambda p, xy: per_sample_cross_entropy(model.apply(p, xy[0]), xy[1])

    grads = [jax.grad(lambda p, m=m: jnp.mean(losses(m)(p, (x, y))))(params)
             for m in (half, full)]
    flat = [jnp.concatenate([g.ravel() for g in jax.tree.leaves(t)]) for t in grads]
    cosine = jnp.dot(flat[0], flat[1]) / (jnp.linalg.norm(flat[0]) * jnp.linalg.norm(flat[1]))
    assert float(cosine) > 0.999
    ghost = psn.per_sample_grad_norms(losses(half), params, (x, y), "ghost")
    np.testing.assert_allclose(np.asarray(ghost), _loop_norms(losses(full), params, (x, y)),
                               rtol=3e-2)


def test_bfloat16_student_multiplies_bfloat16_into_float32_sums():
    """Every layer's product takes bfloat16 operands and sums into float32 (bfloat16 sums
    would lose the logits' precision; float32 operands would not use the bf16 units)."""
    _, params, (x, _) = _classifier(0, (8, 8), 6, 3, 4)
    jaxpr = jax.make_jaxpr(MLPClassifier((8, 8), 3, "bfloat16").apply)(params, x)
    dots = [eqn for eqn in jaxpr.jaxpr.eqns if eqn.primitive.name == "dot_general"]
    assert len(dots) == 3
    for eqn in dots:
        assert [v.aval.dtype for v in eqn.invars] == [jnp.dtype(jnp.bfloat16)] * 2
        assert eqn.outvars[0].aval.dtype == jnp.float32
