"""Evaluating a student's policy by rollouts: one evaluator, :func:`rollout_returns`, for any
policy ``act(obs, key) -> action`` on any gymnax environment.

Discrete SAC's greedy (argmax, :func:`greedy_action`) evaluation during training, PPO's final
greedy evaluation and the continuous SAC's mean-action evaluation all run it. An
:class:`Evaluator` snapshots a discrete actor when an episode ends and scores the snapshot at
the end of the compiled chunk it was taken in (once; rollouts inside the per-step loop would
run at every step once vmapped): :func:`tabular_greedy_evaluator` exactly on a finite state
set (e.g. Four Rooms), :func:`monte_carlo_greedy_evaluator` by greedy rollouts.
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
    discounted return at the end of the chunk it was taken in
    (:func:`~jaxcurr.students.sac.discrete.make_sac`).
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


Act = Callable[[jax.Array, jax.Array], jax.Array]  # act(obs, key) -> action


def greedy_action(logits_fn: LogitsFn, actor_params: Any) -> Act:
    """``act(obs, key)``: the argmax action of a discrete actor (the key is unused)."""
    def act(obs, key):
        del key
        return jnp.argmax(logits_fn(actor_params, obs.reshape(-1).astype(jnp.float32)))

    return act


def rollout_returns(env: Any, env_params: Any, act: Act, keys: jax.Array, gamma: float = 1.0,
                    max_steps: int | None = None) -> tuple[jax.Array, Any]:
    """One rollout of the policy ``act(obs, key)`` per key: discounted returns ``[len(keys)]``
    and each rollout's ``info`` of its last step.

    Each rollout starts from ``env.reset`` and runs until its first ``terminated`` or
    ``truncated`` (at most ``max_steps``, default the env's ``max_steps_in_episode``) and stops
    there: a batch of rollouts (vmapped, e.g. over runs) costs its longest episode, not the
    horizon. Step ``t`` steps the env with ``split(k_steps, horizon)[t]`` and acts with that
    key folded with 1.
    """
    horizon = int(max_steps or env_params.max_steps_in_episode)

    def rollout(key):
        k_reset, k_steps = jax.random.split(key)
        step_keys = jax.random.split(k_steps, horizon)
        obs, state = env.reset(k_reset, env_params)

        def step(t, obs, state):
            action = act(obs, jax.random.fold_in(step_keys[t], 1))
            return env.step(step_keys[t], state, action, env_params)

        info = jax.tree.map(jnp.zeros_like,
                            jax.eval_shape(step, jnp.int32(0), obs, state)[-1])

        def body(carry):
            t, obs, state, ret, discount, _, _ = carry
            obs, state, reward, terminated, truncated, info = step(t, obs, state)
            return (t + 1, obs, state, ret + discount * reward, discount * gamma,
                    jnp.logical_or(terminated, truncated), info)

        init = (jnp.int32(0), obs, state, jnp.zeros([]), jnp.ones([]), jnp.bool_(False), info)
        carry = jax.lax.while_loop(lambda c: (c[0] < horizon) & ~c[5], body, init)
        return carry[3], carry[6]

    return jax.vmap(rollout)(keys)


def monte_carlo_greedy_evaluator(env: Any, env_params: Any, gamma: float, episodes: int = 10,
                                 max_steps: int | None = None) -> Evaluator:
    """Mean discounted return of ``episodes`` greedy rollouts (:func:`rollout_returns`, any
    gymnax env); the snapshot is a copy of the actor's parameters."""

    def snapshot(logits_fn, actor_params, key):
        del logits_fn, key
        return actor_params

    def score(logits_fn, actor_params, key):
        keys = jax.random.split(key, episodes)
        returns, _ = rollout_returns(env, env_params, greedy_action(logits_fn, actor_params),
                                     keys, gamma, max_steps)
        return jnp.mean(returns)

    return Evaluator(snapshot=snapshot, score=score)
