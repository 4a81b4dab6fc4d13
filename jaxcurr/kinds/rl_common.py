"""Config sections shared by the RL kinds: the environment (any gymnax id, or the GrAdE
paper's Four Rooms) and the Grokfast/GrAdE variant axis.

The variants (``plain``, ``grokfast``, ``grade``, ``both``; :mod:`jaxcurr.students.variants`)
are 0/1 switches, so they are the kind's vmapped point axis.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxcurr.core.validation import ConfigError, choice, is_int, require
from jaxcurr.envs import four_rooms
from jaxcurr.envs.lunar_lander import env as lunar_lander

FOUR_ROOMS = four_rooms.GYMNAX_ID
LUNAR_LANDER = lunar_lander.GYMNAX_ID


@dataclasses.dataclass(frozen=True)
class VariantsConfig:
    """Which Grokfast/GrAdE variants run side by side (the point axis)."""

    names: tuple[str, ...] = ("plain", "grokfast", "grade", "both")

    def __post_init__(self):
        from jaxcurr.students.variants import VARIANT_NAMES

        require(len(self.names) > 0 and set(self.names) <= set(VARIANT_NAMES)
                and len(set(self.names)) == len(self.names), "variants.names",
                "distinct names from " + ", ".join(VARIANT_NAMES), self.names)


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """A gymnax environment by id (``gymnax.make``), by a name registered under the
    ``jaxcurr.envs`` entry points, or by a ``"package.module:factory"`` reference
    (:mod:`jaxcurr.core.plugins`): ``factory()`` returns a gymnax environment (its
    ``default_params`` are used) or an ``(env, env_params)`` pair. ``max_steps_in_episode`` 0
    keeps the env's own limit (Four
    Rooms: 459, the paper's; its authors' code: 460 with ``terminate_at_goal = false``). The
    other fields are Four Rooms' (docs/reference_facts.md §5) and must keep their defaults for
    other envs, except ``continuous_collision``: LunarLander's Box2D continuous collision (on,
    as in Box2D; run directories written before it existed resume with it on unless set
    ``false``)."""

    name: str = FOUR_ROOMS
    max_steps_in_episode: int = 0
    observation: str = "one_hot"
    slip_prob: float = 0.2
    terminate_at_goal: bool = True
    start: tuple[int, ...] = (0, 0)
    goal: tuple[int, ...] = (10, 10)
    continuous_collision: bool = True

    def __post_init__(self):
        import gymnax

        from jaxcurr.envs import register_four_rooms, register_lunar_lander

        register_four_rooms()
        register_lunar_lander()
        if self.name not in gymnax.registered_envs:
            user_env(self.name)  # one line naming env.name if it resolves nowhere
        require(is_int(self.max_steps_in_episode) and self.max_steps_in_episode >= 0,
                "env.max_steps_in_episode", "an integer >= 0 (0: the env's default)",
                self.max_steps_in_episode)
        require(isinstance(self.continuous_collision, bool)
                and (self.continuous_collision or self.name == LUNAR_LANDER),
                "env.continuous_collision", f"true or false (false only for {LUNAR_LANDER})",
                self.continuous_collision)
        if self.name != FOUR_ROOMS:
            for field in ("observation", "slip_prob", "terminate_at_goal", "start", "goal"):
                default = EnvConfig.__dataclass_fields__[field].default
                require(getattr(self, field) == default, f"env.{field}",
                        f"the default {default!r} (a Four Rooms setting) for env {self.name}",
                        getattr(self, field))
            return
        choice("env.observation", self.observation, four_rooms.OBSERVATIONS)
        try:
            make_env(self)
        except ValueError as err:
            raise ConfigError(f"env: {err}") from None


def make_env(config: EnvConfig) -> tuple[Any, Any]:
    """``(env, env_params)`` for the config."""
    import gymnax
    import jax.numpy as jnp

    if config.name == FOUR_ROOMS:
        env = four_rooms.FourRooms(config.observation)
        params = env.default_params.replace(
            slip_prob=config.slip_prob, terminate_at_goal=config.terminate_at_goal,
            start=jnp.asarray(config.start, jnp.int32), goal=jnp.asarray(config.goal, jnp.int32))
    elif config.name in gymnax.registered_envs:
        env, params = gymnax.make(config.name)
    else:
        env, params = user_env(config.name)
    if config.max_steps_in_episode:
        params = params.replace(max_steps_in_episode=config.max_steps_in_episode)
    if config.name == LUNAR_LANDER:
        params = params.replace(continuous_collision=config.continuous_collision)
    if config.name == FOUR_ROOMS:
        params = four_rooms.EnvParams(**{f.name: getattr(params, f.name)
                                         for f in dataclasses.fields(params)})  # validates
    return env, params


def stacked_variants(config: Any) -> tuple[list[str], Any]:
    """``Kind.variants`` of the RL kinds: the names and their stacked switches."""
    from jaxcurr.students.variants import variants

    names = list(config.variants.names)
    return names, variants(names)


def user_env(name: str) -> tuple[Any, Any]:
    """``(env, env_params)`` from the factory a ``jaxcurr.envs`` entry point or a
    ``"package.module:factory"`` reference names."""
    import gymnax

    from jaxcurr.core import plugins

    factory = plugins.resolve(name, "jaxcurr.envs", "env.name",
                              tuple(sorted(gymnax.registered_envs)))
    made = factory() if callable(factory) else None
    env, params = made if isinstance(made, tuple) and len(made) == 2 else (
        made, getattr(made, "default_params", None))
    require(hasattr(env, "step_env") and hasattr(env, "reset_env") and params is not None,
            "env.name", "a factory returning a gymnax environment or (env, env_params)", name)
    return env, params
