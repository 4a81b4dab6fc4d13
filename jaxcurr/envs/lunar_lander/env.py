"""Gymnasium's Box2D LunarLander (``LunarLander-v3``) as a gymnax environment.

Read from Gymnasium 1.4.0's ``gymnasium/envs/box2d/lunar_lander.py`` (constants collected in
docs/reference_facts.md §8); the physics (Box2D 2.3's step) is in
:mod:`jaxcurr.envs.lunar_lander.physics` and :mod:`jaxcurr.envs.lunar_lander.contact`, with the
approximations that remain listed there.

* **Terrain** (:func:`terrain`): ``W = 600/30``, ``H = 400/30``, 11 chunks at
  ``x_i = i W/10``; 12 heights ``U[0, H/2]`` with heights 3..7 set to the helipad ``H/4``,
  smoothed ``y_i = 0.33 (h_{i-1} + h_i + h_{i+1})`` (``h_{-1}`` is ``h_11``, Python's
  ``height[-1]``); 10 edges ``(x_i, y_i)-(x_{i+1}, y_{i+1})``.
* **Reset**: lander at ``(W/2, H)``, force ``U(±1000)`` per axis on its centre for the first
  step, legs as in :func:`~jaxcurr.envs.lunar_lander.physics.initial_world`; Gymnasium then
  takes one ``step(0)`` whose observation is returned.
* **Engines** (:func:`engine_impulses`), each step two draws ``d = U(-1, 1)/30``,
  ``tip = (sin a, cos a)``, ``side = (-cos a, sin a)``. Main (action 2, or continuous
  ``a0 > 0`` with power ``(clip(a0, 0, 1) + 1)/2``): ``o = (tip_x (4/30 + 2 d0) + side_x d1,
  -tip_y (4/30 + 2 d0) - side_y d1)``, impulse ``-13 p o`` at ``pos + o``. Side (actions 1/3
  as direction -1/+1, or ``|a1| > 0.5`` with power ``clip(|a1|, 0.5, 1)``):
  ``o = (tip_x d0 + side_x (3 d1 + dir 12/30), -tip_y d0 - side_y (3 d1 + dir 12/30))``,
  impulse ``-0.6 p o`` at ``pos + o + (-tip_x 17/30, tip_y 14/30)`` (17, not 14, as in the
  source).
* **Wind** (``enable_wind``, only while no leg touches): force
  ``tanh(sin(0.02 k) + sin(0.01 pi k)) wind_power`` along x and torque
  ``tanh(sin(0.02 j) + sin(0.01 pi j)) turbulence_power``, ``k, j`` start at
  ``integers(-9999, 9999)`` and count up each step.
* **Observation** (:func:`observation`): ``((x - W/2)/(W/2), (y - (H/4 + 18/30))/(H/2),
  vx (W/2)/50, vy (H/2)/50, a, 20 w/50, leg0, leg1)``.
* **Reward** (:func:`reward`): ``shaping = -100 |(o0, o1)| - 100 |(o2, o3)| - 100 |o4| +
  10 o6 + 10 o7``; reward = ``shaping - previous - 0.3 p_main - 0.03 p_side``; -100 and
  terminated if the lander body touched the ground or ``|o0| >= 1``; +100 and terminated when
  the lander falls asleep (checked last, so it wins). Truncated after 1000 steps.
* :func:`heuristic`: Gymnasium's ``heuristic(env, s)``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from jaxcurr.envs.lunar_lander import physics, toi

GYMNAX_ID = "LunarLander-v3"
W = 600 / 30.0
H = 400 / 30.0
CHUNKS = 11
HELIPAD_Y = H / 4
MAIN_ENGINE_POWER, SIDE_ENGINE_POWER = 13.0, 0.6
INITIAL_RANDOM = 1000.0


@struct.dataclass
class EnvParams(environment.EnvParams):
    """``continuous``: Box action ``(main, lateral)`` in ``[-1, 1]^2``; wind and gravity as
    Gymnasium's constructor arguments; ``max_steps_in_episode`` Gymnasium's TimeLimit;
    ``continuous_collision``: Box2D's ``continuousPhysics`` (on in Box2D and by default;
    :mod:`jaxcurr.envs.lunar_lander.toi`)."""

    continuous: bool = struct.field(pytree_node=False, default=False)
    gravity: float = -10.0
    enable_wind: bool = struct.field(pytree_node=False, default=False)
    wind_power: float = 15.0
    turbulence_power: float = 1.5
    max_steps_in_episode: int = 1000
    continuous_collision: bool = struct.field(pytree_node=False, default=True)


@struct.dataclass
class EnvState(environment.EnvState):
    world: physics.World
    edges: jax.Array  # (10, 2, 2)
    prev_shaping: jax.Array
    wind_idx: jax.Array
    torque_idx: jax.Array
    time: int


def check_params(params: EnvParams) -> None:
    """One-line ValueErrors for concrete out-of-range parameters."""
    g = params.gravity
    if isinstance(g, (int, float)) and not -12.0 < g < 0.0:
        raise ValueError(f"gravity must be in (-12, 0), got {g}")
    m = params.max_steps_in_episode
    if isinstance(m, int) and m < 1:
        raise ValueError(f"max_steps_in_episode must be >= 1, got {m}")


def terrain(heights: jax.Array) -> jax.Array:
    """The 10 terrain edges (10, 2, 2) from the 12 raw heights (module docstring)."""
    h = jnp.asarray(heights, jnp.float32)
    h = h.at[CHUNKS // 2 - 2:CHUNKS // 2 + 3].set(HELIPAD_Y)
    smooth = 0.33 * (jnp.roll(h, 1)[:CHUNKS] + h[:CHUNKS] + h[1:CHUNKS + 1])
    x = jnp.arange(CHUNKS, dtype=jnp.float32) * (W / (CHUNKS - 1))
    pts = jnp.stack([x, smooth], -1)
    return jnp.stack([pts[:-1], pts[1:]], 1)


def engine_impulses(world: physics.World, action, dispersion, continuous: bool):
    """Apply the engines' impulses to the lander; returns the world and ``(p_main, p_side)``."""
    angle = world.a[0]
    pos = physics.body_position(world)[0]
    tip = jnp.stack([jnp.sin(angle), jnp.cos(angle)])
    side = jnp.stack([-tip[1], tip[0]])
    d0, d1 = dispersion[0], dispersion[1]
    if continuous:
        action = jnp.clip(jnp.asarray(action, jnp.float32), -1.0, 1.0)
        m_power = jnp.where(action[0] > 0.0, (jnp.clip(action[0], 0.0, 1.0) + 1.0) * 0.5, 0.0)
        fire_side = jnp.abs(action[1]) > 0.5
        direction = jnp.sign(action[1])
        s_power = jnp.where(fire_side, jnp.clip(jnp.abs(action[1]), 0.5, 1.0), 0.0)
    else:
        m_power = jnp.where(action == 2, 1.0, 0.0)
        fire_side = (action == 1) | (action == 3)
        direction = (action - 2).astype(jnp.float32)
        s_power = jnp.where(fire_side, 1.0, 0.0)
    main = 4.0 / 30.0 + 2.0 * d0
    o = jnp.stack([tip[0] * main + side[0] * d1, -tip[1] * main - side[1] * d1])
    main_world = physics.apply_impulse(world, -o * MAIN_ENGINE_POWER * m_power, pos + o)
    world = jax.tree.map(lambda x, y: jnp.where(m_power > 0.0, x, y), main_world, world)
    lat = 3.0 * d1 + direction * 12.0 / 30.0
    o = jnp.stack([tip[0] * d0 + side[0] * lat, -tip[1] * d0 - side[1] * lat])
    point = pos + o + jnp.stack([-tip[0] * 17.0 / 30.0, tip[1] * 14.0 / 30.0])
    side_world = physics.apply_impulse(world, -o * SIDE_ENGINE_POWER * s_power, point)
    world = jax.tree.map(lambda x, y: jnp.where(s_power > 0.0, x, y), side_world, world)
    return world, m_power, s_power


def observation(pos, vel, angle, ang_vel, leg_contact) -> jax.Array:
    """The 8 observations of Gymnasium's ``step`` (module docstring)."""
    return jnp.stack([
        (pos[0] - W / 2) / (W / 2), (pos[1] - (HELIPAD_Y + 18.0 / 30.0)) / (H / 2),
        vel[0] * (W / 2) / 50.0, vel[1] * (H / 2) / 50.0, angle, 20.0 * ang_vel / 50.0,
        leg_contact[0].astype(jnp.float32), leg_contact[1].astype(jnp.float32)])


def shaping(obs) -> jax.Array:
    """``-100 |(o0, o1)| - 100 |(o2, o3)| - 100 |o4| + 10 o6 + 10 o7``."""
    return (-100.0 * jnp.sqrt(obs[0] ** 2 + obs[1] ** 2)
            - 100.0 * jnp.sqrt(obs[2] ** 2 + obs[3] ** 2)
            - 100.0 * jnp.abs(obs[4]) + 10.0 * obs[6] + 10.0 * obs[7])


def reward(obs, prev_shaping, m_power, s_power, game_over, awake):
    """Step reward and ``terminated`` (module docstring); returns ``(reward, shaping, done)``."""
    s = shaping(obs)
    r = s - prev_shaping - 0.3 * m_power - 0.03 * s_power
    crashed = game_over | (jnp.abs(obs[0]) >= 1.0)
    r = jnp.where(crashed, -100.0, r)
    r = jnp.where(~awake, 100.0, r)
    return r, s, crashed | ~awake


def step_with_draws(state: EnvState, action, dispersion, params: EnvParams, force=None,
                    contacts: bool = True):
    """One Gymnasium ``step`` given its two dispersion draws (and a force already on the lander,
    the reset's initial one); returns ``(state, obs, reward, terminated)``. ``contacts=False``
    (static): the world is known to touch nothing, so collision, contacts and continuous
    collision are left out (:func:`physics.step_world`)."""
    world = state.world
    force = jnp.zeros(2, jnp.float32) if force is None else jnp.asarray(force, jnp.float32)
    torque = jnp.float32(0.0)
    if params.enable_wind:
        blow = ~jnp.any(world.leg_contact)
        wind = jnp.tanh(jnp.sin(0.02 * state.wind_idx) + jnp.sin(jnp.pi * 0.01 * state.wind_idx))
        turb = jnp.tanh(jnp.sin(0.02 * state.torque_idx)
                        + jnp.sin(jnp.pi * 0.01 * state.torque_idx))
        force = force + jnp.where(blow, jnp.stack([wind * params.wind_power, 0.0]), 0.0)
        torque = jnp.where(blow, turb * params.turbulence_power, torque)
        state = state.replace(wind_idx=state.wind_idx + blow, torque_idx=state.torque_idx + blow)
    world, m_power, s_power = engine_impulses(world, action, dispersion, params.continuous)
    return _finish(state, world, force, torque, m_power, s_power, params, contacts)


def _finish(state, world, force, torque, m_power, s_power, params, contacts):
    start_c, start_a = world.c, world.a
    world, _ = physics.step_world(world, state.edges, force, torque, params.gravity, contacts)
    if params.continuous_collision and contacts:
        world = toi.solve_toi(start_c, start_a, world, state.edges)
    obs = observation(physics.body_position(world)[0], world.v[0], world.a[0], world.w[0],
                      world.leg_contact)
    r, s, done = reward(obs, state.prev_shaping, m_power, s_power, world.game_over, world.awake)
    state = state.replace(world=world, prev_shaping=s, time=state.time + 1)
    return state, obs, r, done


def reset_with_draws(heights, force, dispersion, params: EnvParams, wind_idx=0, torque_idx=0):
    """Gymnasium's ``reset`` given its draws (12 heights, the initial force, the first step's
    two dispersions); returns ``(state, obs)``."""
    world = physics.initial_world(W / 2, H)
    state = EnvState(world=world, edges=terrain(heights), prev_shaping=jnp.float32(0.0),
                     wind_idx=jnp.int32(wind_idx), torque_idx=jnp.int32(torque_idx), time=0)
    # The reset's step(0): initial force (plus wind), no engine, reward discarded. The bodies
    # start at height H, above the highest terrain (H/2) by more than one step can fall, so
    # they touch nothing: the step leaves out collision and contacts.
    action = jnp.zeros(2) if params.continuous else jnp.int32(0)
    state, obs, _, _ = step_with_draws(state, action, dispersion, params, force, contacts=False)
    return state.replace(time=0), obs


def heuristic(obs, continuous: bool = False):
    """Gymnasium's ``heuristic(env, s)``: ``angle_targ = clip(s0/2 + s2, -0.4, 0.4)``,
    ``hover_targ = 0.55 |s0|``, ``angle_todo = (angle_targ - s4)/2 - s5``,
    ``hover_todo = (hover_targ - s1)/2 - s3/2``; with a leg down ``angle_todo = 0``,
    ``hover_todo = -s3/2``. Discrete: 2 if ``hover_todo > |angle_todo|`` and ``> 0.05``, else
    3 if ``angle_todo < -0.05``, 1 if ``> 0.05``, else 0; continuous:
    ``clip((20 hover_todo - 1, -20 angle_todo), -1, 1)``."""
    s = obs
    angle_targ = jnp.clip(s[0] * 0.5 + s[2] * 1.0, -0.4, 0.4)
    hover_targ = 0.55 * jnp.abs(s[0])
    angle_todo = (angle_targ - s[4]) * 0.5 - s[5] * 1.0
    hover_todo = (hover_targ - s[1]) * 0.5 - s[3] * 0.5
    legs = (s[6] != 0) | (s[7] != 0)
    angle_todo = jnp.where(legs, 0.0, angle_todo)
    hover_todo = jnp.where(legs, -s[3] * 0.5, hover_todo)
    if continuous:
        return jnp.clip(jnp.stack([hover_todo * 20 - 1, -angle_todo * 20]), -1.0, 1.0)
    return jnp.where((hover_todo > jnp.abs(angle_todo)) & (hover_todo > 0.05), 2,
                     jnp.where(angle_todo < -0.05, 3, jnp.where(angle_todo > 0.05, 1, 0)))


class LunarLander(environment.Environment[EnvState, EnvParams]):
    """LunarLander-v3 (module docstring); draws from ``jax.random`` with Gymnasium's
    distributions (its ``np_random`` stream cannot be reproduced)."""

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def step_env(self, key, state: EnvState, action, params: EnvParams):
        check_params(params)
        dispersion = jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0) / 30.0
        state, obs, r, terminated = step_with_draws(state, action, dispersion, params)
        done = terminated | (state.time >= params.max_steps_in_episode)
        info: dict[str, Any] = {"discount": jnp.where(terminated, 0.0, 1.0)}
        return (jax.lax.stop_gradient(obs), jax.lax.stop_gradient(state), r.astype(jnp.float32),
                done, info)

    def reset_env(self, key, params: EnvParams):
        check_params(params)
        k_h, k_f, k_w, k_t, k_d = jax.random.split(key, 5)
        heights = jax.random.uniform(k_h, (CHUNKS + 1,), minval=0.0, maxval=H / 2)
        force = jax.random.uniform(k_f, (2,), minval=-INITIAL_RANDOM, maxval=INITIAL_RANDOM)
        wind_idx = jax.random.randint(k_w, (), -9999, 9999)
        torque_idx = jax.random.randint(k_t, (), -9999, 9999)
        dispersion = jax.random.uniform(k_d, (2,), minval=-1.0, maxval=1.0) / 30.0
        state, obs = reset_with_draws(heights, force, dispersion, params, wind_idx, torque_idx)
        return obs, state

    def get_obs(self, state: EnvState, params=None, key=None) -> jax.Array:
        w = state.world
        return observation(physics.body_position(w)[0], w.v[0], w.a[0], w.w[0], w.leg_contact)

    def is_terminal(self, state: EnvState, params: EnvParams) -> jax.Array:
        obs = self.get_obs(state)
        return (state.world.game_over | (jnp.abs(obs[0]) >= 1.0) | ~state.world.awake
                | (state.time >= params.max_steps_in_episode))

    @property
    def name(self) -> str:
        return GYMNAX_ID

    @property
    def num_actions(self) -> int:
        return 4

    def action_space(self, params: EnvParams | None = None):
        if params is not None and params.continuous:
            return spaces.Box(-1.0, 1.0, (2,), jnp.float32)
        return spaces.Discrete(4)

    def observation_space(self, params: EnvParams):
        low = jnp.array([-2.5, -2.5, -10.0, -10.0, -2 * jnp.pi, -10.0, 0.0, 0.0], jnp.float32)
        return spaces.Box(low, -low.at[6:].set(-1.0), (8,), jnp.float32)


def episode_statistics(key, episodes: int, policy: str = "heuristic",
                       params: EnvParams | None = None):
    """``(return, length, landed)`` of ``episodes`` whole episodes (``[episodes]`` each) under
    :func:`heuristic` (``policy="heuristic"``) or uniform random actions (``"random"``);
    ``landed``: the episode ended with the +100 of the sleep rule. Jit-compiled, vmapped; one
    program per parameters serves both policies (the policy is an argument), and it stops once
    every episode has ended."""
    if policy not in ("heuristic", "random"):
        raise ValueError(f"policy must be 'heuristic' or 'random', got {policy!r}")
    params = params or EnvParams()
    try:
        program = _episodes_program(params)
    except TypeError:  # parameters holding arrays are not hashable: compiled for this call
        program = _episodes_program.__wrapped__(params)
    return program(jax.random.split(key, episodes), jnp.bool_(policy == "heuristic"))


@functools.lru_cache(maxsize=8)
def _episodes_program(params: EnvParams):
    env = LunarLander()

    def episode(k, use_heuristic):
        obs, state = env.reset_env(k, params)

        def body(carry, k_step):
            obs, state, total, length, landed, done = carry
            k_act, k_env = jax.random.split(k_step)
            if params.continuous:
                random = jax.random.uniform(k_act, (2,), minval=-1.0, maxval=1.0)
            else:
                random = jax.random.randint(k_act, (), 0, 4)
            a = jnp.where(use_heuristic, heuristic(obs, params.continuous), random)
            obs, state, r, d, _ = env.step_env(k_env, state, a, params)
            live = ~done
            return (obs, state, total + live * r, length + live,
                    landed | (live & d & (r == 100.0)), done | d)

        init = (obs, state, jnp.float32(0.0), jnp.int32(0), jnp.bool_(False), jnp.bool_(False))
        keys = jax.random.split(k, params.max_steps_in_episode)
        out, _ = jax.lax.while_loop(
            lambda c: ~c[0][5] & (c[1] < params.max_steps_in_episode),
            lambda c: (body(c[0], keys[c[1]]), c[1] + 1), (init, jnp.int32(0)))
        return out[2], out[3], out[4]

    return jax.jit(jax.vmap(episode, in_axes=(0, None)))


def register_gymnax(env_id: str = GYMNAX_ID) -> None:
    """Make ``gymnax.make(env_id)`` build a :class:`LunarLander` (idempotent)."""
    from gymnax import registration

    if env_id not in registration.registered_envs:
        registration.register(env_id, LunarLander)
