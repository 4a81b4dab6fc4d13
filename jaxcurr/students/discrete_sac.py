"""Discrete Soft Actor-Critic (Christodoulou 2019) with the Grokfast / GrAdE switches.

The agent of Nilabh & Sinha Choudhury ("Efficiently Managing Exploration and Gradient
Stability in Deep Policy Gradient Methods", Discrete SAC part, Table 1) on any gymnax
environment with discrete actions. With ``pi = softmax(actor(s))`` and twin critics
``Q_1, Q_2 : S -> R^|A|`` with Polyak-averaged targets ``Q'_i``:

* soft target:
  ``y = r + gamma (1 - terminated) sum_a pi(a|s') [min_i Q'_i(s', a) - alpha log pi(a|s')]``
* critic loss: ``E [ sum_i 1/2 (Q_i(s, a) - y)^2 ]``
* actor loss: ``E_s sum_a pi(a|s) [alpha_ent log pi(a|s) - min_i Q_i(s, a)]`` with
  ``alpha_ent = alpha`` or, with GrAdE on, ``alpha * r`` (``r`` from the actor's gradients)
* temperature loss (paper eq. 5): ``E_s sum_a pi(a|s) [-alpha (log pi(a|s) + H_target)]``,
  ``H_target = c log|A|``, minimised over ``log alpha`` with Adam
* targets: ``Q'_i <- tau Q_i + (1 - tau) Q'_i`` after every update.

Actor and critics train with :func:`jaxcurr.students.rl_variants.network_optimizer` (GrAdE
statistics, switchable Grokfast-EMA, Adam), so the four variants of the paper are one
vmappable :class:`~jaxcurr.students.rl_variants.Variant` of scalars. Transitions go to a
flashbax item buffer on the device; bootstrapping is cut only on ``terminated`` (gymnax 1.x
returns it apart from ``truncated``), never on the time limit.

:func:`make_train` returns ``train(key, variant)``; :func:`make_sac` exposes its parts
(``init``, ``run_chunk``, ``metrics``) for long runs driven chunk by chunk from Python.
Training counts episodes: a run stops changing once it has finished ``num_episodes``
episodes, and everything it logs is per episode, in preallocated arrays.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import flashbax as fbx
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxcurr.config import ConfigError, is_int, is_number, require
from jaxcurr.students.rl_variants import (
    Variant,
    entropy_coefficient,
    gradient_magnitude,
    network_optimizer,
)

LogitsFn = Callable[[Any, jax.Array], jax.Array]


# --------------------------------------------------------------------------------------------
# Configuration


def _field_check(ok: bool, field: str, allowed: str, value: Any) -> None:
    require(ok, f"sac.{field}", allowed, value)


def _is_real(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Discrete SAC settings; defaults are the paper's Four Rooms values (Table 1, Table 3).

    ``num_episodes`` episodes are trained (the first ``random_steps`` env steps take uniform
    random actions and do no update; afterwards one update per env step). ``max_env_steps``
    caps a run that never finishes its episodes. ``chunk_steps`` env steps form one compiled
    chunk of :func:`make_sac`'s ``run_chunk``. The greedy policy is evaluated after every
    ``eval_every``-th episode. ``grokfast_*`` and ``grade_beta`` are the filters' settings
    (used when a variant switches them on). ``one_hot_observations``: the env's observations
    are one-hot vectors (e.g. Four Rooms' ``"one_hot"``), so the networks' first layer may be
    a row lookup (:class:`MLP`; same function, far fewer FLOPs).
    """

    learning_rate: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    buffer_size: int = 10_000
    hidden: int = 256
    initial_alpha: float = 1.0
    target_entropy_scale: float = 0.5
    random_steps: int = 5_000
    num_episodes: int = 1_000
    max_env_steps: int = 2_000_000
    chunk_steps: int = 1_000
    eval_every: int = 1
    grokfast_alpha: float = 0.98
    grokfast_lamb: float = 2.0
    grade_beta: float = 0.9
    one_hot_observations: bool = False

    def __post_init__(self):
        for name in ("batch_size", "buffer_size", "hidden", "num_episodes", "max_env_steps",
                     "chunk_steps", "eval_every"):
            value = getattr(self, name)
            _field_check(is_int(value) and value > 0, name, "a positive integer", value)
        _field_check(is_int(self.random_steps) and self.random_steps >= 1, "random_steps",
                     "an integer >= 1 (the buffer must hold a transition before the first "
                     "update)", self.random_steps)
        _field_check(self.batch_size <= self.buffer_size, "batch_size",
                     f"at most sac.buffer_size ({self.buffer_size})", self.batch_size)
        _field_check(self.random_steps <= self.max_env_steps, "random_steps",
                     f"at most sac.max_env_steps ({self.max_env_steps})", self.random_steps)
        _field_check(self.eval_every <= self.num_episodes, "eval_every",
                     f"at most sac.num_episodes ({self.num_episodes})", self.eval_every)
        for name in ("learning_rate", "initial_alpha"):
            value = getattr(self, name)
            _field_check(_is_real(value) and value > 0, name, "a positive number", value)
        for name in ("gamma", "grokfast_alpha"):
            value = getattr(self, name)
            _field_check(_is_real(value) and 0 <= value <= 1, name, "a number in [0, 1]", value)
        _field_check(_is_real(self.tau) and 0 < self.tau <= 1, "tau", "a number in (0, 1]",
                     self.tau)
        _field_check(_is_real(self.grade_beta) and 0 <= self.grade_beta < 1, "grade_beta",
                     "a number in [0, 1)", self.grade_beta)
        _field_check(_is_real(self.target_entropy_scale) and 0 <= self.target_entropy_scale <= 1,
                     "target_entropy_scale", "a number in [0, 1] (fraction of log|A|)",
                     self.target_entropy_scale)
        _field_check(_is_real(self.grokfast_lamb), "grokfast_lamb", "a finite number",
                     self.grokfast_lamb)
        _field_check(isinstance(self.one_hot_observations, bool), "one_hot_observations",
                     "true or false", self.one_hot_observations)

    @property
    def num_evaluations(self) -> int:
        return self.num_episodes // self.eval_every


# --------------------------------------------------------------------------------------------
# Networks


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


# --------------------------------------------------------------------------------------------
# Losses (plain array functions; the update below wires the networks into them)


def soft_target(reward, terminated, next_probs, next_log_probs, next_q_min, alpha, gamma):
    """Soft TD target (Christodoulou 2019, eqs. 1-3).

    ``y = r + gamma (1 - terminated) sum_a pi(a|s') [min_i Q'_i(s', a) - alpha log pi(a|s')]``
    """
    next_value = jnp.sum(next_probs * (next_q_min - alpha * next_log_probs), axis=-1)
    return reward + gamma * (1.0 - terminated) * next_value


def critic_loss(q_taken: jax.Array, target: jax.Array) -> jax.Array:
    """``mean_batch sum_i 1/2 (Q_i(s, a) - y)^2``; ``q_taken`` is ``[2, B]``."""
    return jnp.mean(jnp.sum(0.5 * jnp.square(q_taken - target), axis=0))


def actor_loss(probs, log_probs, q_min, alpha_ent) -> jax.Array:
    """``mean_batch sum_a pi(a|s) [alpha_ent log pi(a|s) - min_i Q_i(s, a)]``."""
    return jnp.mean(jnp.sum(probs * (alpha_ent * log_probs - q_min), axis=-1))


def temperature_loss(log_alpha, probs, log_probs, target_entropy) -> jax.Array:
    """``mean_batch sum_a pi(a|s) [-alpha (log pi(a|s) + H_target)]``, ``alpha = exp(log_alpha)``.

    Its gradient in ``log alpha`` is ``-alpha (H_target - H(pi))``: alpha grows while the
    policy's entropy is below the target.
    """
    return jnp.mean(jnp.sum(probs * (-jnp.exp(log_alpha) * (log_probs + target_entropy)), -1))


def polyak_update(online: Any, target: Any, tau: Any) -> Any:
    """``target <- tau * online + (1 - tau) * target``, leaf by leaf."""
    return jax.tree.map(lambda o, t: tau * o + (1.0 - tau) * t, online, target)


# --------------------------------------------------------------------------------------------
# Learner: parameters, optimiser states and one gradient update


class Transition(NamedTuple):
    """One replay item; ``next_obs`` is the true next observation (before any auto-reset)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    next_obs: jax.Array


class Learner(NamedTuple):
    """Parameters (Flax variable dicts), ``log alpha`` and the three optimiser states."""

    actor: Any
    critic: Any
    target_critic: Any
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any


class UpdateInfo(NamedTuple):
    """Scalars of one update (gradient magnitudes: sum of per-tensor L2 norms, raw grads)."""

    critic_loss: jax.Array
    actor_loss: jax.Array
    alpha: jax.Array
    actor_entropy_coef: jax.Array
    entropy: jax.Array
    actor_grad_magnitude: jax.Array
    critic_grad_magnitude: jax.Array


class LearnerFns(NamedTuple):
    """``init``, ``update`` and the actor's ``logits(params, obs)`` from :func:`make_learner`."""

    init: Callable[[jax.Array, jax.Array, Variant], Learner]
    update: Callable[[Learner, Transition, Variant], tuple[Learner, UpdateInfo]]
    logits: LogitsFn


def make_learner(config: SACConfig, num_actions: int) -> LearnerFns:
    """Networks, optimisers and the SAC update for ``num_actions`` discrete actions.

    ``init(key, example_obs, variant)`` builds a :class:`Learner`; ``update(learner, batch,
    variant)`` does one critic, actor and temperature step on a batch of
    :class:`Transition` and the Polyak update, in that order (the actor sees the updated
    critics, the temperature the actor's pre-update policy).
    """
    actor_net = MLP(num_actions, config.hidden, config.one_hot_observations)
    critic_net = TwinQ(num_actions, config.hidden, config.one_hot_observations)
    target_entropy = config.target_entropy_scale * math.log(num_actions)

    def make_optimizer(variant: Variant) -> optax.GradientTransformation:
        return network_optimizer(config.learning_rate, variant.grokfast,
                                 grokfast_alpha=config.grokfast_alpha,
                                 grokfast_lamb=config.grokfast_lamb,
                                 grade_beta=config.grade_beta)

    alpha_tx = optax.adam(config.learning_rate)

    def init(key: jax.Array, example_obs: jax.Array, variant: Variant) -> Learner:
        k_actor, k_critic = jax.random.split(key)
        actor = actor_net.init(k_actor, example_obs)
        critic = critic_net.init(k_critic, example_obs)
        log_alpha = jnp.asarray(math.log(config.initial_alpha), jnp.float32)
        tx = make_optimizer(variant)
        return Learner(actor=actor, critic=critic, target_critic=critic, log_alpha=log_alpha,
                       actor_opt=tx.init(actor), critic_opt=tx.init(critic),
                       alpha_opt=alpha_tx.init(log_alpha))

    def update(learner: Learner, batch: Transition, variant: Variant
               ) -> tuple[Learner, UpdateInfo]:
        tx = make_optimizer(variant)
        alpha = jnp.exp(learner.log_alpha)

        next_logits = actor_net.apply(learner.actor, batch.next_obs)
        next_q_min = jnp.min(critic_net.apply(learner.target_critic, batch.next_obs), axis=0)
        y = soft_target(batch.reward, batch.terminated, jax.nn.softmax(next_logits),
                        jax.nn.log_softmax(next_logits), next_q_min, alpha, config.gamma)
        y = jax.lax.stop_gradient(y)

        def critic_objective(params):
            q = critic_net.apply(params, batch.obs)  # [2, B, A]
            q_taken = jnp.take_along_axis(q, batch.action[None, :, None], axis=-1)[..., 0]
            return critic_loss(q_taken, y)

        c_loss, c_grads = jax.value_and_grad(critic_objective)(learner.critic)
        c_updates, critic_opt = tx.update(c_grads, learner.critic_opt, learner.critic)
        critic = optax.apply_updates(learner.critic, c_updates)

        q_min = jax.lax.stop_gradient(jnp.min(critic_net.apply(critic, batch.obs), axis=0))
        alpha_ent = entropy_coefficient(learner.actor_opt, alpha, variant.grade)

        def actor_objective(params):
            logits = actor_net.apply(params, batch.obs)
            probs, log_probs = jax.nn.softmax(logits), jax.nn.log_softmax(logits)
            return actor_loss(probs, log_probs, q_min, alpha_ent), (probs, log_probs)

        (a_loss, (probs, log_probs)), a_grads = jax.value_and_grad(
            actor_objective, has_aux=True)(learner.actor)
        a_updates, actor_opt = tx.update(a_grads, learner.actor_opt, learner.actor)
        actor = optax.apply_updates(learner.actor, a_updates)

        probs, log_probs = jax.lax.stop_gradient((probs, log_probs))
        t_grad = jax.grad(temperature_loss)(learner.log_alpha, probs, log_probs, target_entropy)
        t_updates, alpha_opt = alpha_tx.update(t_grad, learner.alpha_opt, learner.log_alpha)
        log_alpha = optax.apply_updates(learner.log_alpha, t_updates)

        new = Learner(actor=actor, critic=critic,
                      target_critic=polyak_update(critic, learner.target_critic, config.tau),
                      log_alpha=log_alpha, actor_opt=actor_opt, critic_opt=critic_opt,
                      alpha_opt=alpha_opt)
        info = UpdateInfo(
            critic_loss=c_loss, actor_loss=a_loss, alpha=alpha, actor_entropy_coef=alpha_ent,
            entropy=jnp.mean(-jnp.sum(probs * log_probs, axis=-1)),
            actor_grad_magnitude=gradient_magnitude(actor_opt),
            critic_grad_magnitude=gradient_magnitude(critic_opt))
        return new, info

    return LearnerFns(init=init, update=update, logits=actor_net.apply)


# --------------------------------------------------------------------------------------------
# Greedy evaluation


class Evaluator(NamedTuple):
    """Greedy (argmax) evaluation in two parts, so training stays cheap.

    ``snapshot(logits_fn, actor_params, key)`` runs inside training after every
    ``eval_every``-th episode and returns a small pytree that is stored per evaluation;
    ``score(logits_fn, snapshot, key)`` turns a stored snapshot into the greedy policy's
    discounted return after training (:func:`make_sac`'s ``metrics``).
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


def monte_carlo_greedy_evaluator(env: Any, env_params: Any, gamma: float, episodes: int = 10,
                                 max_steps: int | None = None) -> Evaluator:
    """Mean discounted return of ``episodes`` greedy rollouts (any gymnax env).

    The snapshot is a copy of the actor's parameters; each rollout runs until its first
    ``terminated`` or ``truncated`` (at most ``max_steps``, default the env's
    ``max_steps_in_episode``).
    """
    horizon = int(max_steps or env_params.max_steps_in_episode)

    def snapshot(logits_fn, actor_params, key):
        del logits_fn, key
        return actor_params

    def rollout(logits_fn, actor_params, key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, env_params)

        def body(carry, k):
            obs, state, ret, discount, alive = carry
            action = jnp.argmax(logits_fn(actor_params, obs.reshape(-1).astype(jnp.float32)))
            obs, state, reward, terminated, truncated, _ = env.step(k, state, action, env_params)
            ret = ret + alive * discount * reward
            alive = alive * (1.0 - jnp.logical_or(terminated, truncated).astype(jnp.float32))
            return (obs, state, ret, discount * gamma, alive), None

        init = (obs, state, jnp.zeros([]), jnp.ones([]), jnp.ones([]))
        (_, _, ret, _, _), _ = jax.lax.scan(body, init, jax.random.split(k_steps, horizon))
        return ret

    def score(logits_fn, actor_params, key):
        keys = jax.random.split(key, episodes)
        return jnp.mean(jax.vmap(lambda k: rollout(logits_fn, actor_params, k))(keys))

    return Evaluator(snapshot=snapshot, score=score)


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
    """Everything a run carries from step to step (``log``: per-episode arrays)."""

    learner: Learner
    buffer: Any
    env_state: Any
    obs: jax.Array
    key: jax.Array
    step: jax.Array
    episodes: jax.Array
    sums: EpisodeSums
    log: dict[str, jax.Array]
    snapshots: Any


class SAC(NamedTuple):
    """Parts of a training program (all pure; jit/vmap them as a whole).

    ``init(key, variant)``: networks, buffer and env, then the ``random_steps`` random-action
    steps. ``run_chunk(state, variant)``: ``chunk_steps`` more env steps with one update each.
    ``finished(state)``: whether the run is done (episodes, or the ``max_env_steps`` cap).
    ``metrics(state)``: the per-episode arrays (``[num_episodes]``, NaN for episodes not run and
    for update means of episodes without updates), ``eval_return`` (``[num_evaluations]``,
    greedy discounted return after episode ``(k + 1) * eval_every``), ``episodes`` and
    ``env_steps``.
    """

    init: Callable[[jax.Array, Variant], TrainState]
    run_chunk: Callable[[TrainState, Variant], TrainState]
    finished: Callable[[TrainState], jax.Array]
    metrics: Callable[[TrainState], dict[str, jax.Array]]
    learner: LearnerFns


def _zero_sums() -> EpisodeSums:
    z = jnp.zeros([], jnp.float32)
    return EpisodeSums(ret=z, discounted=z, discount=jnp.ones([], jnp.float32), length=z,
                       updates=z, info=UpdateInfo(*([z] * len(_UPDATE_FIELDS))))


def make_sac(config: SACConfig, env: Any, env_params: Any,
             evaluator: Evaluator | None = None) -> SAC:
    """Build the training program for a gymnax env with discrete actions.

    ``evaluator`` defaults to :func:`monte_carlo_greedy_evaluator` with 10 rollouts; pass
    :func:`tabular_greedy_evaluator` for an exact score when the env has a finite state set.
    """
    if not isinstance(config, SACConfig):
        raise ConfigError(f"config: got {type(config).__name__}; allowed: a SACConfig")
    num_actions = int(env.num_actions)
    if evaluator is None:
        evaluator = monte_carlo_greedy_evaluator(env, env_params, config.gamma)
    fns = make_learner(config, num_actions)
    n_ep, n_eval = config.num_episodes, config.num_evaluations
    buffer = fbx.make_item_buffer(max_length=config.buffer_size, min_length=1,
                                  sample_batch_size=config.batch_size)

    def active(state: TrainState) -> jax.Array:
        return jnp.logical_and(state.episodes < n_ep, state.step < config.max_env_steps)

    def env_step(state: TrainState, variant: Variant, learning: bool) -> TrainState:
        key, k_act, k_env, k_sample, k_snap = jax.random.split(state.key, 5)
        learner = state.learner
        if learning:
            action = jax.random.categorical(k_act, fns.logits(learner.actor, state.obs))
        else:
            action = jax.random.randint(k_act, (), 0, num_actions)
        obs, env_state, reward, terminated, truncated, info = env.step(
            k_env, state.env_state, action, env_params)
        reward = jnp.asarray(reward, jnp.float32)
        transition = Transition(obs=state.obs, action=action.astype(jnp.int32), reward=reward,
                                terminated=jnp.asarray(terminated, jnp.float32),
                                next_obs=_flat(info["final_observation"]))
        buffer_state = buffer.add(state.buffer, transition)

        sums = state.sums
        if learning:
            batch = buffer.sample(buffer_state, k_sample).experience
            learner, upd = fns.update(learner, batch, variant)
            info_sums = jax.tree.map(jnp.add, sums.info, upd)
            sums = sums._replace(info=info_sums, updates=sums.updates + 1)
        sums = sums._replace(ret=sums.ret + reward,
                             discounted=sums.discounted + sums.discount * reward,
                             discount=sums.discount * config.gamma, length=sums.length + 1)

        done = jnp.logical_or(terminated, truncated)
        keep = active(state)
        logged = jnp.logical_and(done, keep)  # a finished run writes no more episode rows
        step = state.step + 1
        idx = jnp.minimum(state.episodes, n_ep - 1)
        n_upd = jnp.where(sums.updates > 0, sums.updates, jnp.nan)
        values = {"return": sums.ret, "discounted_return": sums.discounted,
                  "length": sums.length, "end_step": step.astype(jnp.float32),
                  **{f: getattr(sums.info, f) / n_upd for f in _UPDATE_FIELDS}}
        log = {k: v.at[idx].set(jnp.where(logged, values[k], v[idx]))
               for k, v in state.log.items()}

        due = jnp.logical_and(logged, (state.episodes + 1) % config.eval_every == 0)
        e_idx = jnp.clip((state.episodes + 1) // config.eval_every - 1, 0, n_eval - 1)
        snap = jax.lax.cond(
            due, lambda: evaluator.snapshot(fns.logits, learner.actor, k_snap),
            lambda: jax.tree.map(lambda s: s[e_idx], state.snapshots))
        snapshots = jax.tree.map(lambda s, x: s.at[e_idx].set(x), state.snapshots, snap)

        sums = jax.tree.map(lambda z, s: jnp.where(done, z, s), _zero_sums(), sums)
        new = TrainState(learner=learner, buffer=buffer_state, env_state=env_state,
                         obs=_flat(obs), key=key, step=step,
                         episodes=state.episodes + done.astype(jnp.int32), sums=sums, log=log,
                         snapshots=snapshots)
        # A finished run stops changing. The per-episode log and snapshots are only written
        # while it runs (``logged``), so they need no select over their whole length; its replay
        # storage is left unmasked (a select over the whole buffer every step would cost more
        # than the update); it is never read again.
        big = {"buffer": None, "log": None, "snapshots": None}
        frozen = jax.tree.map(lambda n, o: jnp.where(keep, n, o),
                              new._replace(**big), state._replace(**big))
        return frozen._replace(buffer=buffer_state, log=log, snapshots=snapshots)

    def init(key: jax.Array, variant: Variant) -> TrainState:
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
            log={k: jnp.full((n_ep,), jnp.nan, jnp.float32) for k in EPISODE_METRICS},
            snapshots=jax.tree.map(lambda s: jnp.zeros((n_eval, *s.shape), s.dtype), snap))

        def body(s, _):
            return env_step(s, variant, learning=False), None

        state, _ = jax.lax.scan(body, state, None, length=config.random_steps)
        return state

    def run_chunk(state: TrainState, variant: Variant) -> TrainState:
        def body(s, _):
            return env_step(s, variant, learning=True), None

        state, _ = jax.lax.scan(body, state, None, length=config.chunk_steps)
        return state

    def finished(state: TrainState) -> jax.Array:
        return jnp.logical_not(active(state))

    def metrics(state: TrainState) -> dict[str, jax.Array]:
        keys = jax.random.split(jax.random.fold_in(state.key, 1), n_eval)
        scores = jax.vmap(lambda s, k: evaluator.score(fns.logits, s, k))(state.snapshots, keys)
        done_evals = jnp.arange(n_eval) < state.episodes // config.eval_every
        return {**state.log, "eval_return": jnp.where(done_evals, scores, jnp.nan),
                "episodes": state.episodes, "env_steps": state.step}

    return SAC(init=init, run_chunk=run_chunk, finished=finished, metrics=metrics,
               learner=fns)


def _flat(obs: jax.Array) -> jax.Array:
    return jnp.asarray(obs, jnp.float32).reshape(-1)


def make_train(config: SACConfig, env: Any, env_params: Any,
               evaluator: Evaluator | None = None
               ) -> Callable[[jax.Array, Variant], dict[str, jax.Array]]:
    """``train(key, variant) -> metrics``: a whole run in one program (see :class:`SAC`).

    ``variant`` holds scalars, so
    ``jax.jit(jax.vmap(jax.vmap(train, (0, None)), (None, 0)))(keys, variants)`` trains every
    (variant, seed) pair at once. Chunks repeat in a ``lax.while_loop`` until every run has
    finished; runs that finish earlier are frozen.
    """
    sac = make_sac(config, env, env_params, evaluator)

    def train(key: jax.Array, variant: Variant) -> dict[str, jax.Array]:
        state = sac.init(key, variant)
        state = jax.lax.while_loop(lambda s: jnp.logical_not(sac.finished(s)),
                                   lambda s: sac.run_chunk(s, variant), state)
        return sac.metrics(state)

    return train
