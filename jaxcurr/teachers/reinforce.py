"""Policy-gradient (REINFORCE with a baseline) teacher over K tasks.

Each step the policy ``pi(.|obs)`` (a small MLP, softmax over tasks) picks a task for every
sample of a batch; each sample returns a reward ``r_j``. The update minimises

    L = -mean_j(A_j * log pi(a_j|obs)) - c * H(pi(.|obs)),   A_j = r_j - b

with Adam, where ``b`` is the batch mean reward (``batch_mean``) or an exponential moving
average of past mean rewards (``ema``), and ``A`` is optionally divided by its standard
deviation so that the teacher's step does not depend on the reward's scale (which changes by
orders of magnitude over training for gradient-based signals).
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxcurr.teachers.base import Teacher


class TanhMLP(nn.Module):
    """Tanh hidden layers, linear output of size ``outputs`` (the teachers' networks)."""

    hidden: Sequence[int]
    outputs: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.tanh(nn.Dense(width)(x))
        return nn.Dense(self.outputs)(x)


class ReinforceState(NamedTuple):
    params: Any
    opt_state: Any
    baseline: jax.Array  # EMA of the mean reward (used by baseline="ema")


def reinforce_teacher(
    num_tasks: int,
    hidden: Sequence[int] = (32,),
    learning_rate: float = 3e-4,
    entropy_coef: float = 0.01,
    baseline: str = "batch_mean",
    baseline_decay: float = 0.9,
    normalize_advantages: bool = True,
) -> Teacher:
    """REINFORCE teacher choosing one of ``num_tasks`` tasks per sample."""
    if baseline not in ("batch_mean", "ema"):
        raise ValueError(f"baseline: got {baseline!r}; allowed: 'batch_mean', 'ema'")
    policy = TanhMLP(tuple(hidden), num_tasks)
    optimizer = optax.adam(learning_rate)

    def init(key, obs):
        params = policy.init(key, obs)
        return ReinforceState(params, optimizer.init(params), jnp.zeros((), jnp.float32))

    def probs(state, obs):
        return jax.nn.softmax(policy.apply(state.params, obs))

    def act(state, obs, key, n):
        return jax.random.categorical(key, policy.apply(state.params, obs), shape=(n,))

    def update(state, obs, tasks, rewards):
        rewards = jax.lax.stop_gradient(rewards.astype(jnp.float32))
        mean_reward = jnp.mean(rewards)
        reference = mean_reward if baseline == "batch_mean" else state.baseline
        advantages = rewards - reference
        if normalize_advantages:
            advantages = advantages / (jnp.std(advantages) + 1e-8)

        def loss_fn(params):
            log_probs = jax.nn.log_softmax(policy.apply(params, obs))
            entropy = -jnp.sum(jnp.exp(log_probs) * log_probs)
            pg = -jnp.mean(advantages * log_probs[tasks])
            return pg - entropy_coef * entropy, entropy

        (loss, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new_baseline = baseline_decay * state.baseline + (1 - baseline_decay) * mean_reward
        return ReinforceState(params, opt_state, new_baseline), {"loss": loss, "entropy": entropy}

    return Teacher(init, act, update, probs)
