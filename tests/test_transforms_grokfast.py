"""Tests for jaxcurr.transforms.grokfast against an independent NumPy reference."""

from __future__ import annotations

import collections
import doctest
import importlib.util
import math
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.transforms import GrokfastEmaState, GrokfastMaState, grokfast_ema, grokfast_ma
from jaxcurr.transforms import grokfast as grokfast_module

SHAPES = {"w": (3, 4), "b": (4,), "s": ()}


def random_grads(seed: int, steps: int, shapes=SHAPES) -> list[dict[str, np.ndarray]]:
    """A sequence of gradient pytrees with a slow drift plus noise."""
    rng = np.random.default_rng(seed)
    drift = {k: rng.normal(size=s) for k, s in shapes.items()}
    return [
        {k: (drift[k] + rng.normal(size=s)).astype(np.float32) for k, s in shapes.items()}
        for _ in range(steps)
    ]


def stack(seq):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *seq)


# --- NumPy references (written from the formulas / the authors' loop, not from our code) -----


def ema_reference(seq, alpha, lamb, start):
    mu, outs = None, []
    for grads in seq:
        g = {k: np.asarray(v, np.float64) for k, v in grads.items()}
        if mu is None:
            mu = {k: (v.copy() if start == "first" else np.zeros_like(v)) for k, v in g.items()}
        mu = {k: alpha * mu[k] + (1 - alpha) * g[k] for k in g}
        outs.append({k: g[k] + lamb * mu[k] for k in g})
    return outs, mu


def ma_reference(seq, window, lamb, warmup, filt):
    hist = {k: collections.deque(maxlen=window) for k in seq[0]}
    outs = []
    for grads in seq:
        out = {}
        for k, v in grads.items():
            g = np.asarray(v, np.float64)
            hist[k].append(g)
            if not warmup or len(hist[k]) == window:
                slow = sum(hist[k])
                if filt == "mean":
                    slow = slow / len(hist[k])
                out[k] = g + lamb * slow
            else:
                out[k] = g
        outs.append(out)
    return outs


def run_loop(tx, seq):
    state = tx.init(jax.tree.map(jnp.zeros_like, seq[0]))
    update = jax.jit(tx.update)
    outs = []
    for grads in seq:
        out, state = update(grads, state)
        outs.append(out)
    return outs, state


def run_scan(tx, stacked):
    def body(state, grads):
        out, state = tx.update(grads, state)
        return state, out

    state = tx.init(jax.tree.map(lambda x: jnp.zeros_like(x[0]), stacked))
    state, outs = jax.lax.scan(body, state, stacked)
    return outs, state


def assert_trees_close(actual, expected, rtol=1e-5, atol=1e-6):
    chex.assert_trees_all_equal_structs(actual, expected)
    jax.tree.map(
        lambda a, e: np.testing.assert_allclose(
            np.asarray(a, np.float64), np.asarray(e, np.float64), rtol=rtol, atol=atol
        ),
        actual,
        expected,
    )


# --- Grokfast-EMA ---------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["first", "zeros"])
@pytest.mark.parametrize(("alpha", "lamb"), [(0.98, 2.0), (0.7, -0.5)])
def test_ema_matches_numpy_reference(start, alpha, lamb):
    seq = random_grads(0, 12)
    outs, state = run_loop(grokfast_ema(alpha=alpha, lamb=lamb, ema_start=start), seq)
    ref_outs, ref_mu = ema_reference(seq, alpha, lamb, start)
    for out, ref in zip(outs, ref_outs, strict=True):
        assert_trees_close(out, ref)
    assert isinstance(state, GrokfastEmaState)
    assert int(state.count) == len(seq)
    assert_trees_close(state.ema, ref_mu)


def test_ema_first_step_depends_on_start():
    g = {"w": jnp.array([1.0, -2.0, 4.0])}
    lamb, alpha = 2.0, 0.98
    for start, factor in [("first", 1 + lamb), ("zeros", 1 + lamb * (1 - alpha))]:
        tx = grokfast_ema(alpha=alpha, lamb=lamb, ema_start=start)
        out, _ = tx.update(g, tx.init(g))
        np.testing.assert_allclose(out["w"], factor * g["w"], rtol=1e-6)
    # The default is the authors' code: the EMA starts at the first gradient.
    out, _ = grokfast_ema().update(g, grokfast_ema().init(g))
    np.testing.assert_allclose(out["w"], 3.0 * g["w"], rtol=1e-6)


def test_ema_alpha_edges():
    seq = random_grads(1, 4)
    # alpha = 0: the filter is the current gradient, g_hat = (1 + lamb) g.
    outs, _ = run_loop(grokfast_ema(alpha=0.0, lamb=2.0, ema_start="zeros"), seq)
    assert_trees_close(outs[-1], jax.tree.map(lambda g: 3.0 * g, seq[-1]))
    # alpha = 1 with first start: mu stays at the first gradient forever.
    outs, _ = run_loop(grokfast_ema(alpha=1.0, lamb=1.0), seq)
    assert_trees_close(outs[-1], jax.tree.map(lambda g, g0: g + g0, seq[-1], seq[0]))


def test_ema_chained_before_adam_feeds_adam_the_filtered_gradient():
    seq = random_grads(2, 6)
    params = jax.tree.map(jnp.zeros_like, seq[0])
    chained = optax.chain(grokfast_ema(), optax.adam(1e-2))
    ref_outs, _ = ema_reference(seq, 0.98, 2.0, "first")
    adam = optax.adam(1e-2)
    s_chain, s_adam = chained.init(params), adam.init(params)
    for grads, g_hat in zip(seq, ref_outs, strict=True):
        u_chain, s_chain = chained.update(grads, s_chain, params)
        u_adam, s_adam = adam.update(jax.tree.map(jnp.float32, g_hat), s_adam, params)
        assert_trees_close(u_chain, u_adam, rtol=1e-4, atol=1e-7)


# --- Grokfast-MA ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "warmup", "filt"),
    [(3, True, "mean"), (3, False, "mean"), (4, True, "sum"), (4, False, "sum"), (1, True, "mean")],
)
def test_ma_matches_numpy_reference(window, warmup, filt):
    seq = random_grads(3, 9)  # longer than the window: the ring buffer wraps
    lamb = 1.5
    outs, state = run_loop(grokfast_ma(window=window, lamb=lamb, warmup=warmup, filter=filt), seq)
    ref = ma_reference(seq, window, lamb, warmup, filt)
    for out, expected in zip(outs, ref, strict=True):
        assert_trees_close(out, expected)
    assert isinstance(state, GrokfastMaState)
    assert state.buffer["w"].shape == (window, *SHAPES["w"])


def test_ma_warmup_passes_gradients_through_until_window_full():
    seq = random_grads(4, 5)
    outs, _ = run_loop(grokfast_ma(window=4, lamb=5.0), seq)
    for t in range(3):
        assert_trees_close(outs[t], seq[t], rtol=0, atol=0)
    mean4 = jax.tree.map(lambda *gs: sum(gs) / 4, *seq[:4])
    assert_trees_close(outs[3], jax.tree.map(lambda g, m: g + 5.0 * m, seq[3], mean4))


def test_ma_default_window_is_100():
    tx = grokfast_ma()
    state = tx.init({"w": jnp.zeros(2)})
    assert state.buffer["w"].shape == (100, 2)


# --- jit / scan / vmap -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_tx",
    [
        lambda: grokfast_ema(alpha=0.9, lamb=2.0),
        lambda: grokfast_ema(alpha=0.9, lamb=2.0, ema_start="zeros"),
        lambda: grokfast_ma(window=3, lamb=1.0),
    ],
    ids=["ema_first", "ema_zeros", "ma"],
)
def test_jit_scan_vmap_equivalence(make_tx):
    seqs = [random_grads(seed, 7) for seed in (10, 11, 12)]
    tx = make_tx()
    loop = [run_loop(tx, seq) for seq in seqs]
    stacked = stack([stack(seq) for seq in seqs])  # leaves: (sequence, time, ...)
    outs_v, state_v = jax.jit(jax.vmap(lambda s: run_scan(tx, s)))(stacked)
    for i, (outs, state) in enumerate(loop):
        scan_outs, scan_state = run_scan(tx, stack(seqs[i]))
        assert_trees_close(scan_outs, stack(outs))
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], outs_v), stack(outs))
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], state_v), state)
        assert_trees_close(scan_state, state)


def test_update_compiles_once():
    tx = grokfast_ema()
    seq = random_grads(5, 4)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(grads, state):
        return tx.update(grads, state)

    state = tx.init(seq[0])
    for grads in seq:
        _, state = step(grads, state)
    assert int(state.count) == 4


# --- hyperparameters -------------------------------------------------------------------------


def test_vmap_over_traced_hyperparameters_equals_separate_runs():
    seq = random_grads(6, 6)
    stacked = stack(seq)
    alphas = jnp.array([0.5, 0.9, 0.98])
    lambs = jnp.array([0.0, 1.0, 5.0])

    def run(alpha, lamb):
        return run_scan(grokfast_ema(alpha=alpha, lamb=lamb), stacked)[0]

    swept = jax.jit(jax.vmap(run))(alphas, lambs)
    ma_swept = jax.jit(jax.vmap(lambda lamb: run_scan(grokfast_ma(3, lamb), stacked)[0]))(lambs)
    for i in range(3):
        alone = stack(run_loop(grokfast_ema(float(alphas[i]), float(lambs[i])), seq)[0])
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], swept), alone)
        alone = stack(run_loop(grokfast_ma(3, float(lambs[i])), seq)[0])
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], ma_swept), alone)


def test_inject_hyperparams_vmap_equals_separate_runs():
    seq = random_grads(7, 6)
    params = jax.tree.map(jnp.zeros_like, seq[0])
    tx = optax.inject_hyperparams(grokfast_ema)(alpha=0.98, lamb=2.0, ema_start="zeros")
    alphas = jnp.array([0.6, 0.95])

    def init(alpha):
        state = tx.init(params)
        state.hyperparams["alpha"] = alpha
        return state

    states = jax.vmap(init)(alphas)

    def body(states, grads):
        outs, states = jax.vmap(tx.update, in_axes=(None, 0))(grads, states)
        return states, outs

    _, outs = jax.jit(lambda s: jax.lax.scan(body, s, stack(seq)))(states)
    for i, alpha in enumerate([0.6, 0.95]):
        ref, _ = ema_reference(seq, alpha, 2.0, "zeros")
        assert_trees_close(jax.tree.map(lambda x, i=i: x[:, i], outs), stack(ref))

    # Grokfast-MA's window sets shapes, so it is static under inject_hyperparams.
    ma = optax.inject_hyperparams(grokfast_ma, static_args=("window",))(window=2, lamb=1.0)
    ma_outs, _ = run_loop(ma, seq)
    assert_trees_close(stack(ma_outs), stack(ma_reference(seq, 2, 1.0, True, "mean")))
    with pytest.raises(ValueError, match="static_args"):
        optax.inject_hyperparams(grokfast_ma)(window=2).init(params)


def test_traced_warmup_flag():
    seq = random_grads(8, 4)

    def run(warmup):
        return run_scan(grokfast_ma(window=3, lamb=1.0, warmup=warmup), stack(seq))[0]

    outs = jax.vmap(run)(jnp.array([True, False]))
    for i, warmup in enumerate([True, False]):
        ref = ma_reference(seq, 3, 1.0, warmup, "mean")
        assert_trees_close(jax.tree.map(lambda x, i=i: x[i], outs), stack(ref))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: grokfast_ema(alpha=1.5), r"alpha must be in \[0, 1\]"),
        (lambda: grokfast_ema(alpha=-0.1), "alpha"),
        (lambda: grokfast_ema(alpha=math.nan), "alpha"),
        (lambda: grokfast_ema(lamb=math.inf), "lamb must be a finite"),
        (lambda: grokfast_ema(ema_start="ones"), "ema_start must be one of 'first', 'zeros'"),
        (lambda: grokfast_ma(window=0), "window must be an int >= 1"),
        (lambda: grokfast_ma(window=2.5), "window must be a Python int"),
        (lambda: grokfast_ma(filter="median"), "filter must be one of 'mean', 'sum'"),
        (lambda: grokfast_ma(warmup="yes"), "warmup must be True or False"),
    ],
)
def test_bad_hyperparameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- dtypes and tree shapes ------------------------------------------------------------------


@pytest.mark.parametrize("make_tx", [lambda: grokfast_ema(), lambda: grokfast_ma(window=2)])
def test_mixed_bfloat16_float32_tree(make_tx):
    seq = random_grads(9, 4)
    mixed = [{**g, "w": jnp.asarray(g["w"], jnp.bfloat16)} for g in seq]
    tx = make_tx()
    outs, state = run_loop(tx, mixed)
    assert outs[-1]["w"].dtype == jnp.bfloat16
    assert outs[-1]["b"].dtype == jnp.float32
    # Default filter state is float32 for every leaf.
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state)[1:])
    # The same computation on the bf16-rounded inputs in float32, rounded at the end.
    rounded = [jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), g) for g in mixed]
    ref, _ = run_loop(tx, rounded)
    np.testing.assert_array_equal(
        np.asarray(outs[-1]["w"], np.float32),
        np.asarray(ref[-1]["w"].astype(jnp.bfloat16), np.float32),
    )
    assert_trees_close(outs[-1]["b"], ref[-1]["b"])


def test_state_dtype_option():
    params = {"w": jnp.zeros(3, jnp.bfloat16), "b": jnp.zeros(2, jnp.float32)}
    state = grokfast_ema(state_dtype=jnp.bfloat16).init(params)
    assert state.ema["w"].dtype == jnp.bfloat16 and state.ema["b"].dtype == jnp.bfloat16
    tx = grokfast_ma(window=2, state_dtype=jnp.bfloat16)
    _, state = tx.update(params, tx.init(params))
    assert state.buffer["b"].dtype == jnp.bfloat16
    # A bfloat16 EMA does not lower the precision of a float32 gradient's own term.
    g = {"b": jnp.array([1.0 + 2.0**-12, -3.0])}
    tx = grokfast_ema(lamb=0.0, state_dtype=jnp.bfloat16)
    out, state = tx.update(g, tx.init(g))
    assert out["b"].dtype == jnp.float32 and state.ema["b"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(out["b"], g["b"])


@pytest.mark.parametrize("make_tx", [lambda: grokfast_ema(), lambda: grokfast_ma(window=2)])
def test_empty_pytree(make_tx):
    tx = make_tx()
    state = tx.init({})
    out, state = jax.jit(tx.update)({}, state)
    assert out == {}
    assert int(state.count) == 1


@pytest.mark.parametrize(
    ("make_tx", "reference"),
    [
        (lambda: grokfast_ema(alpha=0.9), lambda seq: ema_reference(seq, 0.9, 2.0, "first")[0]),
        (lambda: grokfast_ma(window=2), lambda seq: ma_reference(seq, 2, 5.0, True, "mean")),
    ],
    ids=["ema", "ma"],
)
def test_under_optax_masked(make_tx, reference):
    seq = random_grads(13, 4)
    mask = {"w": True, "b": False, "s": True}
    tx = optax.masked(make_tx(), mask)
    outs, _ = run_loop(tx, seq)
    ref = reference([{k: g[k] for k in ("w", "s")} for g in seq])
    for out, grads, expected in zip(outs, seq, ref, strict=True):
        np.testing.assert_array_equal(out["b"], grads["b"])  # masked leaf untouched
        assert_trees_close({k: out[k] for k in ("w", "s")}, expected)


# --- docs and the example ---------------------------------------------------------------------


def test_docstring_examples():
    result = doctest.testmod(grokfast_module, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0


def test_flax_example_runs(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "experiments" / "grokfast_flax_example.py"
    spec = importlib.util.spec_from_file_location("grokfast_flax_example", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # flax dataclasses look it up
    spec.loader.exec_module(module)
    results = module.main(["--steps", "20"])
    assert set(results) == {"adamw", "grokfast+adamw"}
    for r in results.values():
        assert math.isfinite(r["train_loss"]) and r["train_loss"] < math.log(2)
        assert 0.0 <= r["test_acc"] <= 1.0 and r["grad_norm"] > 0
