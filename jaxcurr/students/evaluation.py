"""Greedy (argmax) evaluation of a discrete-action actor: Discrete SAC in training, PPO at the end.

An :class:`Evaluator` snapshots the actor during training and scores the snapshots afterwards:
:func:`tabular_greedy_evaluator` exactly on a finite state set (e.g. Four Rooms),
:func:`monte_carlo_greedy_evaluator` by greedy rollouts on any gymnax environment
(:func:`greedy_returns`, which the ``ppo`` kind also runs on its final policies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.students.networks import LogitsFn


class Evaluator(NamedTuple):
    """Greedy (argmax) evaluation in two parts, so training stays cheap.

    ``snapshot(logits_fn, actor_params, key)`` runs inside training after every
    ``eval_every``-th episode and returns a small pytree that is stored per evaluation;
    ``score(logits_fn, snapshot, key)`` turns a stored snapshot into the greedy policy's
    discounted return after training
    (:func:`~jaxcurr.students.sac.discrete.make_sac`'s ``metrics``).
    """

    snapshot: Callable[[LogitsFn, Any, jax.Array], Any]
    score: Callable[[LogitsFn, Any, jax.Array], jax.Array]


def tabular_greedy_evaluator(observations: jax.Array, num_actions: int,
                             policy_return: Callable[[jax.Array], jax.Array]) -> Evaluator:
    """Exact evaluation on a finite state set.

    The snapshot is the greedy action at every observation in ``observations`` (``[S, ...]``);
    the score is ``policy_return(one_hot(actions))``, e.g. Four Rooms'
    ``policy_discounted_return(params, policy, gamma)`` over ``env.all_observations``.
    """
    observations = jnp.asarray(observations, jnp.float32).reshape(len(observations), -1)

    def snapshot(logits_fn, actor_params, key):
        del key
        return jnp.argmax(logits_fn(actor_params, observations), axis=-1).astype(jnp.int32)

    def score(logits_fn, actions, key):
        del logits_fn, key
        return policy_return(jax.nn.one_hot(actions, num_actions, dtype=jnp.float32))

    return Evaluator(snapshot=snapshot, score=score)


def greedy_returns(env: Any, env_params: Any, logits_fn: LogitsFn, actor_params: Any,
                   keys: jax.Array, gamma: float = 1.0, max_steps: int | None = None
                   ) -> jax.Array:
    """The discounted return of one greedy (argmax) rollout per key, ``[len(keys)]``.

    Each rollout runs until its first ``terminated`` or ``truncated`` (at most ``max_steps``,
    default the env's ``max_steps_in_episode``) and stops there: a batch of rollouts (vmapped,
    e.g. over runs) costs its longest episode, not the horizon.
    """
    horizon = int(max_steps or env_params.max_steps_in_episode)

    def rollout(key):
        k_reset, k_steps = jax.random.split(key)
        step_keys = jax.random.split(k_steps, horizon)
        obs, state = env.reset(k_reset, env_params)

        def body(carry):
            t, obs, state, ret, discount, _ = carry
            action = jnp.argmax(logits_fn(actor_params, obs.reshape(-1).astype(jnp.float32)))
            obs, state, reward, terminated, truncated, _ = env.step(
                step_keys[t], state, action, env_params)
            return (t + 1, obs, state, ret + discount * reward, discount * gamma,
                    jnp.logical_or(terminated, truncated))

        init = (jnp.int32(0), obs, state, jnp.zeros([]), jnp.ones([]), jnp.bool_(False))
        carry = jax.lax.while_loop(lambda c: (c[0] < horizon) & ~c[5], body, init)
        return carry[3]

    return jax.vmap(rollout)(keys)


def monte_carlo_greedy_evaluator(env: Any, env_params: Any, gamma: float, episodes: int = 10,
                                 max_steps: int | None = None) -> Evaluator:
    """Mean discounted return of ``episodes`` greedy rollouts (:func:`greedy_returns`, any
    gymnax env); the snapshot is a copy of the actor's parameters."""

    def snapshot(logits_fn, actor_params, key):
        del logits_fn, key
        return actor_params

    def score(logits_fn, actor_params, key):
        keys = jax.random.split(key, episodes)
        return jnp.mean(greedy_returns(env, env_params, logits_fn, actor_params, keys, gamma,
                                       max_steps))

    return Evaluator(snapshot=snapshot, score=score)
