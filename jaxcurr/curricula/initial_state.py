"""The initial-state curriculum: a SAC student, a teacher choosing where its episodes start.

One run (one seed of one method) of the gradient-norm paper's system (Campbell & Yoon 2023;
docs/reference_facts.md §2), as pure
functions. Every env step: the student acts (uniform random for the first ``random_steps``),
the transition goes to a flashbax buffer and, from ``learning_starts`` on, one SAC update runs
(:mod:`jaxcurr.students.sac.continuous`), its actor gradient feeding the episode's signals
(:mod:`jaxcurr.signals.actor_gradients`), and the student's value of each state feeds the episode's
scores (:mod:`jaxcurr.signals.episode_scores`). When an episode ends (the env's step limit:
PointMaze and Relocate never terminate, so transitions always bootstrap), the method's teacher
(:mod:`jaxcurr.teachers.initial_state`: REINFORCE, ALP-GMM or Robust PLR) is rewarded with the
chosen signal and picks the next start, a point of the unit cube that the environment's
:class:`~jaxcurr.envs.start_spaces.StartSpace` maps onto a valid start (a maze's goal and reset
cells, Relocate's ball and target positions); without a teacher the env's default reset is
used. Each start has a level (a maze's (goal cell, start cell) pair): the return-progress and
MaxMC scores keep each level's last and best return. Optionally the replay
buffer is cleared at every episode end (the authors' option). A window is ``eval_every`` env
steps followed by an evaluation: ``eval_episodes`` episodes from the default reset with the
actor's mean action.

**The episode loop.** The teacher's work (act, observe, the reset through the start space, the
episode's scores and log row) runs only where an episode can end. When the space's episodes
have a fixed length ``T`` (``StartSpace.fixed_length``: PointMaze, AntMaze and Relocate only
truncate), every run's episodes end at the same steps, multiples of ``T``, and window ends fall
on multiples of ``eval_every``: a window is then ``eval_every / g`` blocks of ``g =
gcd(eval_every, T)`` student steps scanned with no teacher work, each followed by the
episode-end work once (under ``vmap`` it runs for every run; ``where`` keeps it only where an
episode ended). With ``eval_every`` a multiple of ``T`` that is once per episode. Other envs
(those that can terminate) use ``g = 1``. Both forms give the same bits.

The method is data, not code: ``Method(teacher, signal)`` with ``teacher`` an index into
:data:`~jaxcurr.teachers.initial_state.START_TEACHERS` and ``signal`` an index into
:data:`~jaxcurr.signals.episode_scores.SIGNALS`, so all methods and seeds are one
vmapped program (each run carries every teacher's state; only its own is used).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxcurr.envs.start_spaces import StartSpace
from jaxcurr.signals import actor_gradients as rl_signals
from jaxcurr.signals import episode_scores
from jaxcurr.signals.episode_scores import SIGNALS
from jaxcurr.students.episodes import empty_log, mean_of_ended, write_episode
from jaxcurr.students.evaluation import rollout_returns
from jaxcurr.students.sac.continuous import (
    ContinuousSACConfig,
    SACState,
    Transition,
    action_bounds,
    interact,
    make_continuous_sac,
    make_replay,
)
from jaxcurr.teachers.initial_state import StartTeacher

EPISODE_LOGS = ("return", "success", "goal_distance", "end_step",
                *(f"signal_{name}" for name in SIGNALS))  # + the start space's log_names
UPDATE_MEANS = ("critic_loss", "actor_loss", "entropy")


class Method(NamedTuple):
    """``teacher``: int32 index into ``START_TEACHERS`` (0: default resets); ``signal``: int32
    index into ``SIGNALS`` (the teacher's reward)."""

    teacher: jax.Array
    signal: jax.Array


class RunState(NamedTuple):
    learner: SACState
    buffer: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    episodes: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array  # int32: steps of this episode so far
    start: jax.Array  # [start_size]: this episode's start as the teacher sees it
    cells: jax.Array  # the start space's log values (a maze's goal and reset cell indices)
    grads: rl_signals.EpisodeGradients
    episode: jax.Array  # [3, max_steps]: reward, V(s_t), V(s_t+1) of this episode's steps
    level: jax.Array  # int32: this episode's (goal cell, start cell) pair
    level_returns: jax.Array  # [2, levels]: last and best return from each level (NaN: none)
    update_sums: jax.Array  # [len(UPDATE_MEANS) + 1]: sums over the window's updates, count
    teacher: tuple  # every teacher's state (TEACHERS[1:])
    teacher_obs: jax.Array
    raw_action: jax.Array
    log: dict


class EpisodeEnd(NamedTuple):
    """What the episode-end work needs from a block's last step: whether it ended an episode,
    its success (NaN where the env reports none), MuJoCo's warnings (or None) and the key
    of the next start."""

    done: jax.Array
    success: jax.Array
    warnings: jax.Array | None
    key: jax.Array


class Program(NamedTuple):
    """``init(key, method)`` and ``window(state, method) -> (state, metrics)``."""

    init: Callable[[jax.Array, Method], RunState]
    window: Callable[[RunState, Method], tuple[RunState, dict]]


def make_program(space: StartSpace, config: ContinuousSACConfig,
                 teachers: tuple[StartTeacher, ...], total_steps: int, eval_every: int = 5_000,
                 eval_episodes: int = 10, clear_buffer: bool = False,
                 return_scale: float | None = None, gae_lambda: float = 0.95,
                 episode_loop: bool = True) -> Program:
    """The run's pure functions; ``teachers`` are those of ``START_TEACHERS[1:]``, in order.
    ``return_scale`` multiplies the return in the teacher's observation (default
    ``1 / max_steps``, so it lies in [0, 1] for rewards in [0, 1]); ``gae_lambda`` is the
    positive value loss's lambda. ``episode_loop``: scan the steps between possible episode
    ends when the space's episodes have a fixed length (False: episode-end work after every
    step; both give the same bits)."""
    env, params, max_steps = space.env, space.params, space.max_steps
    low, high = action_bounds(env, params)
    sac = make_continuous_sac(config, low, high)
    replay = make_replay(config, total_steps)
    max_episodes = -(-total_steps // max_steps)
    scale = 1.0 / max_steps if return_scale is None else return_scale
    fixed = episode_loop and space.fixed_length
    block_steps = math.gcd(eval_every, max_steps) if fixed else 1

    def episode_logs(env_state) -> tuple[str, ...]:
        """The log's columns: EPISODE_LOGS, the start space's, MuJoCo's warning count."""
        warnings = ("mujoco_warnings",) if hasattr(env_state, "warnings") else ()
        return (*EPISODE_LOGS, *space.log_names, *warnings)

    def teacher_reset(key, teacher_states: tuple, method: Method, teacher_obs):
        """Next start: the method's teacher's point of the start space, or the default reset
        without one."""
        k_act, k_reset = jax.random.split(key)
        keys = [k_act, *(jax.random.fold_in(k_act, i) for i in range(1, len(teachers)))]
        picks = [t.act(s, teacher_obs, k) for t, s, k in
                 zip(teachers, teacher_states, keys, strict=True)]
        which = jnp.clip(method.teacher - 1, 0, len(teachers) - 1)
        raw, unit = (jnp.stack(parts)[which] for parts in zip(*picks, strict=True))
        obs_t, env_t = space.reset_to(k_reset, unit)
        obs_d, env_d = env.reset_env(k_reset, params)
        use = method.teacher > 0
        obs = jnp.where(use, obs_t, obs_d)
        env_state = jax.tree.map(lambda t, d: jnp.where(use, t, d), env_t, env_d)
        return obs, env_state, raw, space.log_values(unit, env_state, use)

    def student_step(state: RunState) -> tuple[RunState, EpisodeEnd]:
        """One env step of the student: act, store, update, accumulate the episode's gradient
        signals and values; no teacher work (the env state is the stepped one, not reset)."""
        key, k_step, k_next = jax.random.split(state.key, 3)
        out = interact(sac, replay, env, params, config, state.learner, state.buffer,
                       state.env_state, state.obs, state.step, k_step)
        learner, upd = out.learner, out.update
        grads = rl_signals.accumulate(state.grads, upd.actor_grads, state.learner.actor_opt,
                                      out.learning)
        update_sums = state.update_sums + out.learning.astype(jnp.float32) * jnp.stack(
            [upd.critic_loss, upd.actor_loss, upd.entropy, jnp.ones([])])
        t = state.episode_length
        values = sac.value(learner, jnp.stack([state.obs, out.obs]))  # V(s_t), V(s_t+1)
        episode = state.episode.at[:, jnp.minimum(t, max_steps - 1)].set(
            jnp.stack([out.reward, values[0], values[1]]))
        warnings = getattr(out.env_state, "warnings", None)  # MuJoCo's (host physics)
        end = EpisodeEnd(out.done, jnp.asarray(out.info["success"], jnp.float32)
                         if "success" in out.info else jnp.full([], jnp.nan, jnp.float32),
                         None if warnings is None else warnings.astype(jnp.float32), k_next)
        return state._replace(
            learner=learner, buffer=out.buffer, env_state=out.env_state, obs=out.obs, key=key,
            step=state.step + 1, episode_return=state.episode_return + out.reward,
            episode_length=t + 1, grads=grads, episode=episode,
            update_sums=update_sums), end

    def episode_end(state: RunState, end: EpisodeEnd, method: Method) -> RunState:
        """Where the last step ended an episode: its scores and log row, the teacher rewarded
        with the method's signal, and the next start (the state is unchanged elsewhere)."""
        done, episode_return, t = end.done, state.episode_return, state.episode_length
        last, old_best = state.level_returns[:, state.level]
        best = jnp.where(jnp.isnan(old_best), episode_return,
                         jnp.maximum(old_best, episode_return))
        signals = {**rl_signals.episode_rewards(state.grads),
                   "return": episode_return,
                   "return_progress": jnp.where(jnp.isnan(last), 0.0,
                                                jnp.abs(episode_return - last)),
                   "positive_value_loss": episode_scores.positive_value_loss(
                       *state.episode, t, config.gamma, gae_lambda),
                   "max_mc": episode_scores.max_mc(state.episode[1], t, best)}
        signal = jnp.stack([signals[n] for n in SIGNALS])[method.signal]
        level_returns = state.level_returns.at[:, state.level].set(
            jnp.where(done, jnp.stack([episode_return, best]), jnp.stack([last, old_best])))
        teacher_obs = jnp.concatenate([episode_return[None] * scale, state.start])
        teacher_states = []
        for i, (teacher, before) in enumerate(zip(teachers, state.teacher, strict=True)):
            stepped, _ = teacher.observe(before, state.teacher_obs, state.raw_action, signal)
            use = done & (method.teacher == i + 1)
            teacher_states.append(jax.tree.map(lambda n, o, u=use: jnp.where(u, n, o),
                                               stepped, before))
        teacher_states = tuple(teacher_states)
        next_obs, next_env, raw, cells = teacher_reset(end.key, teacher_states, method,
                                                       teacher_obs)

        row = {"return": episode_return, "success": end.success,
               "goal_distance": space.distance(state.start),
               **{name: state.cells[i] for i, name in enumerate(space.log_names)},
               "end_step": state.step.astype(jnp.float32),
               **{f"signal_{n}": signals[n] for n in SIGNALS}}
        if end.warnings is not None:
            row["mujoco_warnings"] = end.warnings
        index = jnp.minimum(state.episodes, max_episodes - 1)
        log = write_episode(state.log, index, row, done)

        def pick(new, old):
            return jax.tree.map(lambda n, o: jnp.where(done, n, o), new, old)

        buffer_state = state.buffer
        if clear_buffer:
            buffer_state = buffer_state.replace(
                current_index=jnp.where(done, 0, buffer_state.current_index),
                is_full=jnp.logical_and(buffer_state.is_full, ~done))
        next_start = space.describe(next_env)
        return state._replace(
            buffer=buffer_state, env_state=pick(next_env, state.env_state),
            obs=pick(next_obs, state.obs),
            episodes=state.episodes + done.astype(jnp.int32),
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, t),
            start=pick(next_start, state.start), cells=pick(cells, state.cells),
            grads=pick(rl_signals.empty(state.learner.actor), state.grads),
            level=pick(space.level_of(next_start), state.level), level_returns=level_returns,
            teacher=teacher_states, teacher_obs=pick(teacher_obs, state.teacher_obs),
            raw_action=pick(raw, state.raw_action), log=log)

    def block(state: RunState, method: Method) -> RunState:
        """``block_steps`` student steps scanned, then the episode-end work once: episodes
        end only at block ends (module docstring), so nothing is missed."""
        def body(carry, _):
            return student_step(carry[0]), None

        warnings = getattr(state.env_state, "warnings", None)
        before = EpisodeEnd(jnp.zeros([], bool), jnp.zeros([], jnp.float32),
                            None if warnings is None else jnp.zeros(warnings.shape, jnp.float32),
                            state.key)
        (state, end), _ = jax.lax.scan(body, (state, before), None, length=block_steps)
        return episode_end(state, end, method)

    def evaluate(actor, key) -> tuple[jax.Array, jax.Array]:
        """Mean return and final-step success rate (NaN where the env reports no
        ``info["success"]``) of the mean action from default resets."""
        returns, last = rollout_returns(env, params, lambda obs, k: sac.mean_action(actor, obs),
                                        jax.random.split(key, eval_episodes), 1.0,
                                        max_steps)
        if "success" not in last:  # an env without a success flag: NaN, not an error
            return jnp.mean(returns), jnp.full([], jnp.nan, jnp.float32)
        return jnp.mean(returns), jnp.mean(last["success"].astype(jnp.float32))

    def window(state: RunState, method: Method) -> tuple[RunState, dict]:
        """``eval_every`` env steps, then an evaluation from default resets and the window's
        metrics."""
        before = state.episodes
        state = state._replace(update_sums=jnp.zeros_like(state.update_sums))
        state = jax.lax.fori_loop(0, eval_every // block_steps, lambda _, s: block(s, method),
                                  state)
        state = state._replace(teacher=tuple(t.end_window(s) for t, s in
                                             zip(teachers, state.teacher, strict=True)))
        key, k_eval = jax.random.split(state.key)
        eval_return, eval_success = evaluate(state.learner.actor, k_eval)
        means = mean_of_ended(state.log, ("return", "success", "goal_distance",
                                          *(f"signal_{n}" for n in SIGNALS)),
                              before, state.episodes)
        metrics = {f"train_{k}": v for k, v in means.items()}
        updates = state.update_sums[-1]
        metrics.update({k: state.update_sums[i] / updates for i, k in enumerate(UPDATE_MEANS)})
        metrics.update(eval_return=eval_return, eval_success=eval_success,
                       episodes=state.episodes.astype(jnp.float32),
                       env_steps=state.step.astype(jnp.float32))
        return state._replace(key=key), metrics

    def init(key: jax.Array, method: Method) -> RunState:
        """Student, teachers, buffer and the first start of one run."""
        k_learner, k_teacher, k_reset, k_run = jax.random.split(key, 4)
        teacher_states = tuple(t.init(jax.random.fold_in(k_teacher, i) if i else k_teacher)
                               for i, t in enumerate(teachers))
        teacher_obs = jnp.zeros((1 + space.start_size,), jnp.float32)  # [return, start]
        obs, env_state, raw, cells = teacher_reset(k_reset, teacher_states, method,
                                                   teacher_obs)
        learner = sac.init(k_learner, obs)
        example = Transition(obs, low, jnp.zeros([], jnp.float32), jnp.zeros([], jnp.float32),
                             obs)
        return RunState(
            learner=learner, buffer=replay.init(example), env_state=env_state, obs=obs,
            key=k_run, step=jnp.zeros([], jnp.int32), episodes=jnp.zeros([], jnp.int32),
            episode_return=jnp.zeros([], jnp.float32),
            episode_length=jnp.zeros([], jnp.int32), start=space.describe(env_state),
            cells=cells, grads=rl_signals.empty(learner.actor),
            episode=jnp.zeros((3, max_steps), jnp.float32),
            level=space.level_of(space.describe(env_state)),
            level_returns=jnp.full((2, len(space.levels)), jnp.nan, jnp.float32),
            update_sums=jnp.zeros((len(UPDATE_MEANS) + 1,), jnp.float32),
            teacher=teacher_states, teacher_obs=teacher_obs, raw_action=raw,
            log=empty_log(episode_logs(env_state), max_episodes))

    return Program(init, window)
