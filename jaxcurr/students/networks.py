"""Discrete SAC's networks: the DDPG-initialised :class:`MLP` actor and :class:`TwinQ` critics.

``LogitsFn`` is the type of the actor's ``logits(params, obs)`` (its Flax ``apply``), which the
learner (:mod:`jaxcurr.students.sac.learner`) and the greedy evaluators
(:mod:`jaxcurr.students.evaluation`) take.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

LogitsFn = Callable[[Any, jax.Array], jax.Array]


def _uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class MLP(nn.Module):
    """``Dense(hidden) -> ReLU -> Dense(outputs)`` with DDPG's initialisation.

    Lillicrap et al. 2016 (DDPG): weights and biases of a hidden layer ~ ``U(+-1/sqrt(f))``
    with ``f`` the layer's fan-in; the output layer ~ ``U(+-3e-3)``, so the initial policy is
    near uniform and the initial Q-values near zero.

    With ``one_hot_inputs`` the inputs must be one-hot vectors, and the first layer's product
    ``x @ W`` is computed as the row ``W[argmax x]``: the same function with the same
    parameters (and gradients), without the ``|x|``-fold multiply by zeros.
    """

    outputs: int
    hidden: int = 256
    one_hot_inputs: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        bound = 1.0 / math.sqrt(x.shape[-1])
        kernel = self.param("hidden_kernel", _uniform(bound), (x.shape[-1], self.hidden))
        bias = self.param("hidden_bias", _uniform(bound), (self.hidden,))
        if self.one_hot_inputs:
            h = jnp.take(kernel, jnp.argmax(x, axis=-1), axis=0)
        else:
            h = x @ kernel
        h = nn.relu(h + bias)
        return nn.Dense(self.outputs, kernel_init=_uniform(3e-3), bias_init=_uniform(3e-3),
                        name="out")(h)


class TwinQ(nn.Module):
    """Two independent critics; returns ``[2, ..., |A|]`` action values."""

    num_actions: int
    hidden: int = 256
    one_hot_inputs: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        q1 = MLP(self.num_actions, self.hidden, self.one_hot_inputs, name="q1")(x)
        q2 = MLP(self.num_actions, self.hidden, self.one_hot_inputs, name="q2")(x)
        return jnp.stack([q1, q2])
