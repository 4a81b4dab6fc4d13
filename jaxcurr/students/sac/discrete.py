"""Discrete Soft Actor-Critic (Christodoulou 2019) with the Grokfast / GrAdE switches.

The agent of Nilabh & Sinha Choudhury ("Efficiently Managing Exploration and Gradient
Stability in Deep Policy Gradient Methods", Discrete SAC part, Table 1) on any gymnax
environment with discrete actions. This module holds the training loop; its settings
(:class:`~jaxcurr.students.sac.config.SACConfig`) and parts live beside it and are
re-exported here:

* :mod:`jaxcurr.students.sac.learner`: the losses (soft target, critic, actor, temperature),
  the Polyak update and one gradient update of actor, twin critics and temperature;
* :mod:`jaxcurr.students.networks`: the DDPG-initialised :class:`DDPGInitMLP` and :class:`TwinQ`;
* :mod:`jaxcurr.students.evaluation`: greedy evaluation (:class:`Evaluator`).

Transitions go to a flashbax item buffer on the device; bootstrapping is cut only on
``terminated`` (gymnax 1.x returns it apart from ``truncated``), never on the time limit.

:func:`make_train` returns ``train(key, variant)``; :func:`make_sac` exposes its parts
(``init``, ``run_chunk``, ``metrics``) for long runs driven chunk by chunk from Python.
Training counts episodes: a run stops changing once it has finished ``num_episodes``
episodes, and everything it logs is per episode, in preallocated arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import flashbax as fbx
import jax
import jax.numpy as jnp

from jaxcurr.core.validation import ConfigError, is_int
from jaxcurr.students.episodes import empty_log, write_episode
from jaxcurr.students.evaluation import (
    Evaluator,
    monte_carlo_greedy_evaluator,
    tabular_greedy_evaluator,
)
from jaxcurr.students.networks import DDPGInitMLP, LogitsFn, TwinQ
from jaxcurr.students.sac.config import SACConfig
from jaxcurr.students.sac.learner import (
    LearnerFns,
    SACState,
    Transition,
    UpdateInfo,
    actor_loss,
    critic_loss,
    make_learner,
    polyak_update,
    soft_target,
    temperature_loss,
)
from jaxcurr.students.variants import Variant

__all__ = [
    # this module: settings and training loop
    "EPISODE_METRICS", "SAC", "EpisodeSums", "SACConfig", "TrainState", "TrainStateV1",
    "make_sac",
    "make_train",
    # re-exported from rl_networks, sac_learner and rl_evaluation
    "DDPGInitMLP", "LogitsFn", "TwinQ",
    "SACState", "LearnerFns", "Transition", "UpdateInfo", "actor_loss", "critic_loss",
    "make_learner", "polyak_update", "soft_target", "temperature_loss",
    "Evaluator", "monte_carlo_greedy_evaluator", "tabular_greedy_evaluator",
]


# --------------------------------------------------------------------------------------------
# Training loop

EPISODE_METRICS = ("return", "discounted_return", "length", "end_step", "critic_loss",
                   "actor_loss", "actor_grad_magnitude", "critic_grad_magnitude", "alpha",
                   "actor_entropy_coef", "entropy")
_UPDATE_FIELDS = UpdateInfo._fields


class EpisodeSums(NamedTuple):
    """Running sums over the current episode (update quantities over its updates)."""

    ret: jax.Array
    discounted: jax.Array
    discount: jax.Array
    length: jax.Array
    updates: jax.Array
    info: UpdateInfo


class TrainState(NamedTuple):
    """Everything a run carries from step to step (``log``: per-episode arrays;
    ``snapshots``: the evaluator's snapshot per evaluation; ``eval_scores``: their greedy
    scores, NaN until scored; ``evals_scored``: how many are scored)."""

    learner: SACState
    buffer: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    episodes: jax.Array
    sums: EpisodeSums
    log: dict[str, jax.Array]
    snapshots: Any
    eval_scores: jax.Array
    evals_scored: jax.Array


# The layout jaxcurr 0.1.0 checkpointed (before each snapshot was scored once when taken: no
# ``eval_scores``, ``evals_scored``); :func:`make_sac`'s ``upgrade`` turns it into today's.
TrainStateV1 = NamedTuple("TrainStateV1", [(name, Any) for name in TrainState._fields[:-2]])


class SAC(NamedTuple):
    """Parts of a training program (all pure; jit/vmap them as a whole).

    ``init(key, variant)``: networks, buffer and env, then the ``random_steps`` random-action
    steps. ``run_chunk(state, variant)``: ``chunk_steps`` more env steps with one update each.
    Both end by scoring the snapshots taken since the last score (each is scored once).
    ``finished(state)``: whether the run is done (episodes, or the ``max_env_steps`` cap).
    ``metrics(state)``: the per-episode arrays (``[num_episodes]``, NaN for episodes not run and
    for update means of episodes without updates), ``eval_return`` (``[num_evaluations]``,
    greedy score of the policy after episode ``(k + 1) * eval_every``), ``episodes`` and
    ``env_steps``. ``upgrade(old)``: a :data:`TrainStateV1` (older run directories) as a
    :class:`TrainState`, its snapshots scored.
    """

    init: Callable[[jax.Array, Variant], TrainState]
    run_chunk: Callable[[TrainState, Variant], TrainState]
    finished: Callable[[TrainState], jax.Array]
    metrics: Callable[[TrainState], dict[str, jax.Array]]
    learner: LearnerFns
    upgrade: Callable[[Any], TrainState]


def _zero_sums() -> EpisodeSums:
    z = jnp.zeros([], jnp.float32)
    return EpisodeSums(ret=z, discounted=z, discount=jnp.ones([], jnp.float32), length=z,
                       updates=z, info=UpdateInfo(*([z] * len(_UPDATE_FIELDS))))


def make_sac(config: SACConfig, env: Any, env_params: Any,
             evaluator: Evaluator | None = None, chunk_steps: int = 1_000) -> SAC:
    """Build the training program for a gymnax env with discrete actions.

    ``run_chunk`` advances a run by ``chunk_steps`` env steps (a multiple of
    ``config.update_every``). ``evaluator`` defaults to :func:`monte_carlo_greedy_evaluator` with
    ``eval_episodes`` rollouts; pass :func:`tabular_greedy_evaluator` for an exact score when the
    env has a finite state set.
    """
    if not isinstance(config, SACConfig):
        raise ConfigError(f"config: got {type(config).__name__}; allowed: a SACConfig")
    if not (is_int(chunk_steps) and chunk_steps > 0 and chunk_steps % config.update_every == 0):
        raise ConfigError(f"chunk_steps: got {chunk_steps!r}; allowed: a positive multiple of "
                          f"sac.update_every ({config.update_every})")
    num_actions = int(env.num_actions)
    if evaluator is None:
        evaluator = monte_carlo_greedy_evaluator(env, env_params, config.gamma,
                                                 config.eval_episodes)
    fns = make_learner(config, num_actions)
    n_ep, n_eval = config.num_episodes, config.num_evaluations
    buffer = fbx.make_item_buffer(max_length=config.buffer_size, min_length=1,
                                  sample_batch_size=config.batch_size)

    def active(state: TrainState) -> jax.Array:
        """Whether the run still trains (episodes and the env-step cap left)."""
        return jnp.logical_and(state.episodes < n_ep, state.step < config.max_env_steps)

    def choose_action(learner: SACState, obs: jax.Array, key: jax.Array,
                      learning: bool) -> jax.Array:
        """A sample of the policy (``learning``) or a uniform random action."""
        if learning:
            return jax.random.categorical(key, fns.logits(learner.actor, obs))
        return jax.random.randint(key, (), 0, num_actions)

    def episode_row(sums: EpisodeSums, step: jax.Array) -> dict[str, jax.Array]:
        """The per-episode log's row of the episode that ``sums`` tallied (update quantities
        as means over its updates; NaN without updates)."""
        n_upd = jnp.where(sums.updates > 0, sums.updates, jnp.nan)
        return {"return": sums.ret, "discounted_return": sums.discounted,
                "length": sums.length, "end_step": step.astype(jnp.float32),
                **{f: getattr(sums.info, f) / n_upd for f in _UPDATE_FIELDS}}

    def snapshot_if_due(state: TrainState, learner: SACState, logged: jax.Array,
                        key: jax.Array) -> Any:
        """The stored snapshots, with the evaluator's snapshot of the actor written after
        every ``eval_every``-th logged episode."""
        due = jnp.logical_and(logged, (state.episodes + 1) % config.eval_every == 0)
        e_idx = jnp.clip((state.episodes + 1) // config.eval_every - 1, 0, n_eval - 1)
        snap = jax.lax.cond(
            due, lambda: evaluator.snapshot(fns.logits, learner.actor, key),
            lambda: jax.tree.map(lambda s: s[e_idx], state.snapshots))
        return jax.tree.map(lambda s, x: s.at[e_idx].set(x), state.snapshots, snap)

    def env_step(state: TrainState, variant: Variant, learning: bool,
                 update: bool = True) -> TrainState:
        """One env step: act, store the transition, update (``learning`` and ``update``),
        tally the episode, and when it ends log its row and snapshot the actor; a finished
        run stays as it is."""
        key, k_act, k_env, k_sample, k_snap = jax.random.split(state.key, 5)
        learner = state.learner
        action = choose_action(learner, state.obs, k_act, learning)
        obs, env_state, reward, terminated, truncated, info = env.step(
            k_env, state.env_state, action, env_params)
        reward = jnp.asarray(reward, jnp.float32)
        transition = Transition(obs=state.obs, action=action.astype(jnp.int32),
                                reward=stored_reward(reward),
                                terminated=jnp.asarray(terminated, jnp.float32),
                                next_obs=_flat(info["final_observation"]))
        buffer_state = buffer.add(state.buffer, transition)

        sums = state.sums
        if learning and update:
            learner, sums = _update(learner, sums, buffer_state, k_sample, variant)
        sums = sums._replace(ret=sums.ret + reward,
                             discounted=sums.discounted + sums.discount * reward,
                             discount=sums.discount * config.gamma, length=sums.length + 1)

        done = jnp.logical_or(terminated, truncated)
        keep = active(state)
        logged = jnp.logical_and(done, keep)  # a finished run writes no more episode rows
        step = state.step + 1
        log = write_episode(state.log, jnp.minimum(state.episodes, n_ep - 1),
                            episode_row(sums, step), logged)
        snapshots = snapshot_if_due(state, learner, logged, k_snap)

        sums = jax.tree.map(lambda z, s: jnp.where(done, z, s), _zero_sums(), sums)
        new = state._replace(learner=learner, buffer=buffer_state, env_state=env_state,
                             obs=_flat(obs), key=key, step=step,
                             episodes=state.episodes + done.astype(jnp.int32), sums=sums,
                             log=log, snapshots=snapshots)
        # A finished run stops changing. The per-episode log and snapshots are only written
        # while it runs (``logged``), so they need no select over their whole length; its replay
        # storage is left unmasked (a select over the whole buffer every step would cost more
        # than the update); it is never read again.
        big = {"buffer": None, "log": None, "snapshots": None}
        frozen = jax.tree.map(lambda n, o: jnp.where(keep, n, o),
                              new._replace(**big), state._replace(**big))
        return frozen._replace(buffer=buffer_state, log=log, snapshots=snapshots)

    def stored_reward(reward: jax.Array) -> jax.Array:
        """The reward the replay buffer stores (clipped below at ``min_reward`` if asked)."""
        return jnp.maximum(reward, config.min_reward) if config.clip_rewards else reward

    def _update(learner, sums, buffer_state, key, variant):
        """One SAC update from a sampled batch, its quantities added to the episode's sums."""
        batch = buffer.sample(buffer_state, key).experience
        learner, upd = fns.update(learner, batch, variant)
        return learner, sums._replace(info=jax.tree.map(jnp.add, sums.info, upd),
                                      updates=sums.updates + 1)

    def update_step(state: TrainState, variant: Variant) -> TrainState:
        """One update of the update phase (a finished run stays as it is)."""
        key, k_sample = jax.random.split(state.key)
        learner, sums = _update(state.learner, state.sums, state.buffer, k_sample, variant)
        keep = active(state)
        return state._replace(**jax.tree.map(
            lambda n, o: jnp.where(keep, n, o),
            {"learner": learner, "sums": sums, "key": key},
            {"learner": state.learner, "sums": state.sums, "key": state.key}))

    def init(key: jax.Array, variant: Variant) -> TrainState:
        """Networks, buffer and env, then the ``random_steps`` random-action steps."""
        k_learner, k_reset, k_run = jax.random.split(key, 3)
        obs, env_state = env.reset(k_reset, env_params)
        obs = _flat(obs)
        learner = fns.init(k_learner, obs, variant)
        example = Transition(obs=obs, action=jnp.zeros([], jnp.int32),
                             reward=jnp.zeros([], jnp.float32),
                             terminated=jnp.zeros([], jnp.float32), next_obs=obs)
        snap = jax.eval_shape(lambda: evaluator.snapshot(fns.logits, learner.actor, k_run))
        state = TrainState(
            learner=learner, buffer=buffer.init(example), env_state=env_state, obs=obs,
            key=k_run, step=jnp.zeros([], jnp.int32), episodes=jnp.zeros([], jnp.int32),
            sums=_zero_sums(),
            log=empty_log(EPISODE_METRICS, n_ep),
            snapshots=jax.tree.map(lambda s: jnp.zeros((n_eval, *s.shape), s.dtype), snap),
            eval_scores=jnp.full((n_eval,), jnp.nan, jnp.float32),
            evals_scored=jnp.zeros([], jnp.int32))

        def body(s, _):
            return env_step(s, variant, learning=False), None

        state, _ = jax.lax.scan(body, state, None, length=config.random_steps)
        return score_new_snapshots(state)

    def score_new_snapshots(state: TrainState) -> TrainState:
        """Score the snapshots taken since the last call, each once (key: the run's key
        folded with the evaluation's index). Vmapped, the loop runs for the most new
        snapshots of any run."""
        taken = jnp.minimum(state.episodes // config.eval_every, n_eval)

        def score(carry):
            i, scores = carry
            snapshot = jax.tree.map(lambda x: x[i], state.snapshots)
            key = jax.random.fold_in(state.key, i)
            return i + 1, scores.at[i].set(evaluator.score(fns.logits, snapshot, key))

        scored, scores = jax.lax.while_loop(lambda c: c[0] < taken, score,
                                            (state.evals_scored, state.eval_scores))
        return state._replace(eval_scores=scores, evals_scored=scored)

    def upgrade(old: Any) -> TrainState:
        """An older layout's state (:data:`TrainStateV1`) with every snapshot scored."""
        state = TrainState(**old._asdict(),
                           eval_scores=jnp.full((n_eval,), jnp.nan, jnp.float32),
                           evals_scored=jnp.zeros([], jnp.int32))
        return score_new_snapshots(state)

    def run_chunk(state: TrainState, variant: Variant) -> TrainState:
        """``chunk_steps`` more env steps, each followed by an update (or blocks of
        ``update_every`` env steps then as many updates)."""
        k = config.update_every
        if k == 1:
            def body(s, _):
                return env_step(s, variant, learning=True), None
        else:
            def body(s, _):
                s = _repeat(lambda x: env_step(x, variant, learning=True, update=False), s, k)
                return _repeat(lambda x: update_step(x, variant), s, k), None

        state, _ = jax.lax.scan(body, state, None, length=chunk_steps // k)
        return score_new_snapshots(state)

    def finished(state: TrainState) -> jax.Array:
        """Whether the run has stopped changing."""
        return jnp.logical_not(active(state))

    def metrics(state: TrainState) -> dict[str, jax.Array]:
        """The per-episode log, the snapshots' scores, episodes and env steps."""
        return {**state.log, "eval_return": state.eval_scores, "episodes": state.episodes,
                "env_steps": state.step}

    return SAC(init=init, run_chunk=run_chunk, finished=finished, metrics=metrics,
               learner=fns, upgrade=upgrade)


def _repeat(fn: Callable[[Any], Any], state: Any, times: int) -> Any:
    return jax.lax.scan(lambda s, _: (fn(s), None), state, None, length=times)[0]


def _flat(obs: jax.Array) -> jax.Array:
    return jnp.asarray(obs, jnp.float32).reshape(-1)


def make_train(config: SACConfig, env: Any, env_params: Any,
               evaluator: Evaluator | None = None, chunk_steps: int = 1_000
               ) -> Callable[[jax.Array, Variant], dict[str, jax.Array]]:
    """``train(key, variant) -> metrics``: a whole run in one program (see :class:`SAC`).

    ``variant`` holds scalars, so
    ``jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))(keys, variants)`` trains every
    (variant, seed) pair at once. Chunks repeat in a ``lax.while_loop`` until every run has
    finished; runs that finish earlier are frozen.
    """
    sac = make_sac(config, env, env_params, evaluator, chunk_steps)

    def train(key: jax.Array, variant: Variant) -> dict[str, jax.Array]:
        state = sac.init(key, variant)
        state = jax.lax.while_loop(lambda s: jnp.logical_not(sac.finished(s)),
                                   lambda s: sac.run_chunk(s, variant), state)
        return sac.metrics(state)

    return train
