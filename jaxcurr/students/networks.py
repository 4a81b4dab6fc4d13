"""The RL students' networks (Flax linen), each under its own name.

* Discrete SAC: the DDPG-initialised :class:`DDPGInitMLP` actor and :class:`TwinQ` critics;
* continuous SAC: :class:`SquashedGaussianActor` and :class:`TwinCritic`;
* PPO: :class:`OrthogonalInitMLP` (actor and critic).

``LogitsFn`` is the type of a discrete actor's ``logits(params, obs)`` (its Flax ``apply``),
which the SAC learner and the greedy evaluator (:mod:`jaxcurr.students.evaluation`) take.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

LogitsFn = Callable[[Any, jax.Array], jax.Array]
ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh}
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # the continuous actor's log standard deviation is clipped


def _uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class DDPGInitMLP(nn.Module):
    """``Dense(h_1) -> ReLU -> ... -> Dense(h_k) -> ReLU -> Dense(outputs)``, DDPG's init.

    Lillicrap et al. 2016 (DDPG): weights and biases of a hidden layer ~ ``U(+-1/sqrt(f))``
    with ``f`` the layer's fan-in; the output layer ~ ``U(+-3e-3)``, so the initial policy is
    near uniform and the initial Q-values near zero. ``hidden`` is one width (one hidden
    layer) or a sequence of widths; the first layer's parameters are ``hidden_kernel`` /
    ``hidden_bias`` either way, so one-layer networks keep their parameter names.

    With ``one_hot_inputs`` the inputs must be one-hot vectors, and the first layer's product
    ``x @ W`` is computed as the row ``W[argmax x]``: the same function with the same
    parameters (and gradients), without the ``|x|``-fold multiply by zeros.
    """

    outputs: int
    hidden: int | Sequence[int] = 256
    one_hot_inputs: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        widths = hidden_layers(self.hidden)
        bound = 1.0 / math.sqrt(x.shape[-1])
        kernel = self.param("hidden_kernel", _uniform(bound), (x.shape[-1], widths[0]))
        bias = self.param("hidden_bias", _uniform(bound), (widths[0],))
        if self.one_hot_inputs:
            h = jnp.take(kernel, jnp.argmax(x, axis=-1), axis=0)
        else:
            h = x @ kernel
        h = nn.relu(h + bias)
        for i, width in enumerate(widths[1:], start=1):
            bound = 1.0 / math.sqrt(h.shape[-1])
            h = nn.relu(nn.Dense(width, kernel_init=_uniform(bound), bias_init=_uniform(bound),
                                 name=f"hidden_{i}")(h))
        return nn.Dense(self.outputs, kernel_init=_uniform(3e-3), bias_init=_uniform(3e-3),
                        name="out")(h)


def hidden_layers(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """The hidden widths of an MLP given as one width or a sequence of widths."""
    return (hidden,) if isinstance(hidden, int) else tuple(hidden)


class TwinQ(nn.Module):
    """Two independent critics; returns ``[2, ..., |A|]`` action values."""

    num_actions: int
    hidden: int | Sequence[int] = 256
    one_hot_inputs: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        q1 = DDPGInitMLP(self.num_actions, self.hidden, self.one_hot_inputs, name="q1")(x)
        q2 = DDPGInitMLP(self.num_actions, self.hidden, self.one_hot_inputs, name="q2")(x)
        return jnp.stack([q1, q2])


class SquashedGaussianActor(nn.Module):
    """ReLU MLP to the mean and clipped log-std of ``u``; ``a = centre + scale tanh(u)``."""

    hidden: tuple[int, ...]
    action_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = obs
        for width in self.hidden:
            h = nn.relu(nn.Dense(width)(h))
        mean = nn.Dense(self.action_dim)(h)
        log_std = jnp.clip(nn.Dense(self.action_dim)(h), LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std


class TwinCritic(nn.Module):
    """Two independent ReLU MLPs ``Q_i(o, a)`` on ``[o, a]``; returns ``[2, ...]``."""

    hidden: tuple[int, ...]

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        def q(name):
            h = jnp.concatenate([obs, action], axis=-1)
            for i, width in enumerate(self.hidden):
                h = nn.relu(nn.Dense(width, name=f"{name}_{i}")(h))
            return nn.Dense(1, name=f"{name}_out")(h)[..., 0]

        return jnp.stack([q("q1"), q("q2")])


def orthogonal(scale: float = 1.0):
    """``jax.nn.initializers.orthogonal(scale)`` for 2-D kernels, its draws and values (to
    float32 rounding): ``A ~ N(0, 1)`` of shape ``(max(r, c), min(r, c))``, ``Q`` of its QR with
    ``diag R > 0``, transposed when ``r < c``, times ``scale`` (Saxe et al. 2014). The QR is
    Gram-Schmidt with a second pass (CGS2) in plain ``jnp`` instead of LAPACK: jaxlib 0.10's
    batched CPU LAPACK kernels wait on XLA's intra-op pool for their batch chunks, so as many
    of them running at once as the pool has threads (vmapped seeds, 2 cores) deadlock."""

    def init(key, shape, dtype=jnp.float32):
        rows, cols = shape
        tall = (max(rows, cols), min(rows, cols))
        a = jax.random.normal(key, tall, dtype)

        def column(j, q):
            v = a[:, j]
            for _ in range(2):  # the second pass restores orthogonality lost to rounding
                done = (jnp.arange(tall[1]) < j).astype(dtype)
                v = v - q @ (done * (q.T @ v))
            return q.at[:, j].set(v / jnp.linalg.norm(v))

        q = jax.lax.fori_loop(0, tall[1], column, jnp.zeros(tall, dtype))
        return scale * (q.T if rows < cols else q)

    return init


class OrthogonalInitMLP(nn.Module):
    """PPO's MLP: ``len(hidden)`` hidden layers; orthogonal init (gain sqrt 2, head
    ``head_gain``; Engstrom et al. 2020, "Implementation Matters in Deep RL") or Flax's default
    (LeCun normal)."""

    hidden: Sequence[int]
    activation: str
    out: int
    orthogonal: bool
    head_gain: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        def dense(width, gain):
            if not self.orthogonal:
                return nn.Dense(width)
            return nn.Dense(width, kernel_init=orthogonal(gain),
                            bias_init=nn.initializers.zeros)

        for width in self.hidden:
            x = ACTIVATIONS[self.activation](dense(width, np.sqrt(2.0))(x))
        return dense(self.out, self.head_gain)(x)
