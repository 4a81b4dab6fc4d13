"""Discrete SAC settings (Christodoulou 2019; the values of Nilabh & Sinha Choudhury, Table 1).

Validated when built: a bad value is one :class:`~jaxcurr.core.validation.ConfigError` line
naming ``sac.<field>`` and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxcurr.core.validation import hidden_sizes, is_int, is_number, require, sweepable


def _field_check(ok: bool, field: str, allowed: str, value: Any) -> None:
    require(ok, f"sac.{field}", allowed, value)


def _is_real(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


GRADE_SCOPES = ("actor", "all")


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Discrete SAC settings; defaults are the paper's Four Rooms values (Table 1, Table 3).

    ``num_episodes`` episodes are trained (the first ``random_steps`` env steps take uniform
    random actions and do no update; afterwards ``update_every`` env steps alternate with
    ``update_every`` updates: 1 is one update after every env step, the paper's LunarLander
    setting is 50). With ``clip_rewards``, rewards enter the replay buffer clipped below at
    ``min_reward`` (the paper's LunarLander: -10); logged returns are the env's own.
    ``max_env_steps`` caps a run that never finishes its episodes. The greedy policy is
    evaluated after every ``eval_every``-th episode (by ``eval_episodes`` rollouts where the
    evaluation is Monte-Carlo). ``grokfast_*`` and ``grade_beta`` are the filters' settings
    (used when a variant switches them on). ``one_hot_observations``: the env's observations
    are one-hot vectors (e.g. Four Rooms' ``"one_hot"``), so the networks' first layer may be
    a row lookup (:class:`DDPGInitMLP`; same function, far fewer FLOPs).

    ``grade_scope``: where GrAdE's ratio ``r`` scales the temperature when a variant switches
    GrAdE on: ``"actor"`` (the paper: the actor's entropy coefficient ``alpha r`` only; the
    critics' soft target and the temperature loss use ``alpha``) or ``"all"`` (``alpha r`` in
    the actor loss, the soft target and the temperature loss, so ``alpha`` is tuned against the
    coefficient the actor sees: a variant the paper does not state).

    ``hidden``: the hidden layers of the actor and of each critic, one width (the paper's
    Table 1: one layer of 256) or a list of widths. The authors' own LunarLander checkpoints
    are two layers of 200 (``[200, 200]``, ``jaxcurr/experiments/lunar_sac.toml``'s default;
    docs/reference_facts.md §7).
    """

    learning_rate: float = sweepable(3e-4)
    gamma: float = sweepable(0.99)
    tau: float = sweepable(0.005)
    batch_size: int = 256
    buffer_size: int = 10_000
    hidden: int | tuple[int, ...] = 256
    initial_alpha: float = 1.0
    target_entropy_scale: float = sweepable(0.5)
    random_steps: int = 5_000
    num_episodes: int = 1_000
    max_env_steps: int = 2_000_000
    eval_every: int = 1
    grokfast_alpha: float = sweepable(0.98)
    grokfast_lamb: float = sweepable(2.0)
    grade_beta: float = sweepable(0.9)
    grade_scope: str = "actor"
    one_hot_observations: bool = False
    update_every: int = 1
    clip_rewards: bool = False
    min_reward: float = -10.0
    eval_episodes: int = 10

    def __post_init__(self):
        if isinstance(self.hidden, tuple):
            hidden_sizes("sac.hidden", self.hidden)
        else:
            _field_check(is_int(self.hidden) and self.hidden > 0, "hidden",
                         "a positive integer (one hidden layer) or a list of them", self.hidden)
        for name in ("batch_size", "buffer_size", "num_episodes", "max_env_steps",
                     "eval_every", "update_every", "eval_episodes"):
            value = getattr(self, name)
            _field_check(is_int(value) and value > 0, name, "a positive integer", value)
        _field_check(is_int(self.random_steps) and self.random_steps >= 1, "random_steps",
                     "an integer >= 1 (the buffer must hold a transition before the first "
                     "update)", self.random_steps)
        _field_check(self.batch_size <= self.buffer_size, "batch_size",
                     f"at most sac.buffer_size ({self.buffer_size})", self.batch_size)
        _field_check(self.random_steps <= self.max_env_steps, "random_steps",
                     f"at most sac.max_env_steps ({self.max_env_steps})", self.random_steps)
        _field_check(_is_real(self.min_reward), "min_reward", "a finite number",
                     self.min_reward)
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
        _field_check(self.grade_scope in GRADE_SCOPES, "grade_scope",
                     " or ".join(map(repr, GRADE_SCOPES)), self.grade_scope)
        for name in ("one_hot_observations", "clip_rewards"):
            value = getattr(self, name)
            _field_check(isinstance(value, bool), name, "true or false", value)

    @property
    def num_evaluations(self) -> int:
        return self.num_episodes // self.eval_every
