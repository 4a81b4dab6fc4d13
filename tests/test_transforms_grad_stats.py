"""Tests for jaxcurr.transforms.gradient_stats."""

from __future__ import annotations

import doctest

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcurr.transforms import (
    GradStatsState,
    find_states,
    get_grad_stats,
    grad_stats,
    grad_stats_dict,
    grokfast_ema,
)
from jaxcurr.transforms import gradient_stats as stats_module


def random_tree(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "params": {
            "Dense_0": {
                "kernel": jnp.asarray(rng.normal(size=(4, 3)), jnp.bfloat16),
                "bias": jnp.asarray(rng.normal(size=(3,)), jnp.float32),
            },
            "scale": jnp.asarray(rng.normal(), jnp.float32),
        }
    }


def numpy_norms(tree) -> dict[str, float]:
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        name = "/".join(str(p.key) for p in path)
        out[name] = float(np.sqrt(np.sum(np.asarray(leaf, np.float64) ** 2)))
    return out


def test_norms_match_numpy_and_updates_pass_through():
    tx = grad_stats()
    state = tx.init(random_tree(0))
    for seed in (1, 2):
        grads = random_tree(seed)
        out, state = jax.jit(tx.update)(grads, state)
        chex.assert_trees_all_equal(out, grads)  # identity, dtypes included
        ref = numpy_norms(grads)
        got = grad_stats_dict(state)
        assert set(got) == {"global_norm"} | {f"norm/{k}" for k in ref}
        for k, v in ref.items():
            np.testing.assert_allclose(got[f"norm/{k}"], v, rtol=1e-6)
        np.testing.assert_allclose(
            got["global_norm"], np.sqrt(sum(v**2 for v in ref.values())), rtol=1e-6
        )
    assert int(state.count) == 2
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(state.leaf_norms))


def test_in_chain_reads_raw_or_filtered_gradients_by_position():
    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.array([3.0, 4.0])}
    opt = optax.chain(grad_stats(), grokfast_ema(lamb=2.0), grad_stats(), optax.sgd(0.1))
    _, state = opt.update(grads, opt.init(params), params)
    found = find_states(state, GradStatsState)
    assert [p for p, _ in found] == ["[0]", "[2]"]
    np.testing.assert_allclose(found[0][1].global_norm, 5.0)  # raw
    np.testing.assert_allclose(found[1][1].global_norm, 15.0)  # after Grokfast: 3 g
    with pytest.raises(ValueError, match="found 2 GradStatsState"):
        get_grad_stats(state)
    assert grad_stats_dict(state[2], prefix="filtered/")["filtered/norm/w"] == pytest.approx(15.0)


def test_under_optax_masked_and_inject_hyperparams():
    params = {"actor": jnp.zeros(2), "critic": jnp.zeros(3)}
    grads = {"actor": jnp.array([3.0, 4.0]), "critic": jnp.array([1.0, 2.0, 2.0])}
    opt = optax.chain(
        optax.masked(grad_stats(), {"actor": False, "critic": True}),
        optax.inject_hyperparams(optax.adam)(learning_rate=1e-3),
    )
    _, state = opt.update(grads, opt.init(params), params)
    stats = grad_stats_dict(state)
    assert set(stats) == {"global_norm", "norm/critic"}
    np.testing.assert_allclose(stats["norm/critic"], 3.0)
    np.testing.assert_allclose(stats["global_norm"], 3.0)
    assert isinstance(get_grad_stats(state).leaf_norms["actor"], optax.MaskedNode)


def test_empty_tree_single_array_and_vmapped_state():
    tx = grad_stats()
    out, state = tx.update({}, tx.init({}))
    assert out == {} and float(state.global_norm) == 0.0 and int(state.count) == 1

    _, state = tx.update(jnp.array([6.0, 8.0]), tx.init(jnp.zeros(2)))
    assert grad_stats_dict(state) == {"global_norm": pytest.approx(10.0), "norm": 10.0}

    batch = {"w": jnp.arange(6.0).reshape(3, 2)}  # three gradients [0,1], [2,3], [4,5]
    states = jax.vmap(lambda g: tx.update(g, tx.init(g))[1])(batch)
    np.testing.assert_allclose(
        grad_stats_dict(states)["norm/w"],
        np.linalg.norm(np.arange(6.0).reshape(3, 2), axis=1),
        rtol=1e-6,
    )


def test_docstring_examples():
    result = doctest.testmod(stats_module, raise_on_error=False)
    assert result.attempted >= 5 and result.failed == 0
