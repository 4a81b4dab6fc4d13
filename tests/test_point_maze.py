"""PointMaze against gymnasium-robotics' real MuJoCo environment, and its resets.

The references are trajectories of the real environments recorded by
``tests/fixtures/record_point_maze.py`` (its docstring has the versions and the commands):
``point_maze_mujoco3.npz`` (MuJoCo 3.0.1, gymnasium-robotics 1.2.3: the paper authors'
versions) and ``point_maze_mujoco4.npz`` (MuJoCo 4.0.0, gymnasium-robotics 1.4.2). No MuJoCo is
needed here: each episode starts from the recorded initial ``qpos``, ``qvel`` and goal and is
driven by the recorded actions, in float64 (``jax.enable_x64``) and float32.
"""

import functools
from pathlib import Path

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxcurr.envs import (
    PointMaze,
    PointMazeParams,
    PointMazeState,
    free_cells,
    register_point_maze,
    reset_to_cells,
)
from jaxcurr.envs.point_maze import env as point_maze
from jaxcurr.envs.point_maze import physics

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONS = {"mujoco3": physics.MARGIN_MUJOCO3, "mujoco4": physics.MARGIN_MUJOCO4}
ENV_IDS = {"PointMaze_OpenDense-v3": ("open", "dense"),
           "PointMaze_UMazeDense-v3": ("u_maze", "dense"),
           "PointMaze_MediumDense-v3": ("medium", "dense"),
           "PointMaze_Large-v3": ("large", "sparse")}
PAD = 300  # every episode is padded to 300 actions: one compilation per map and dtype
# Tolerances: max abs error over qpos and qvel ("free": rollout steps before the first wall
# contact; "step": one step from every recorded state; "rollout": whole episodes). Measured
# maxima are in the comments.
# float64, MuJoCo 3.0.1: only rounding differs (free 9e-16, step 3e-14, rollout 6e-12).
# float64, MuJoCo 4.x: its Newton solver keeps the warm start (last step's qacc) without
# iterating when the gradient certificate is below opt.tolerance = 1e-8 (engine_solver.c,
# "convergence certificate"), about 1e-10 away from the exact minimiser computed here (step
# 1.9e-10, rollout 6.6e-10).
TOL64 = {"mujoco3": {"free": 1e-12, "step": 1e-12, "rollout": 1e-10},
         "mujoco4": {"free": 1e-12, "step": 1e-9, "rollout": 3e-9}}
# float32: free flight accumulates a few ulps of |q| <= 3.5 per step (9.3e-7); one step in
# contact turns a position ulp (2.4e-7) into K dt ulp ~ 7e-6 of velocity (K ~ 2770; 1.7e-5).
# A rollout diverges further: the contact's damping force -B v_n (B ~ 105) switches on when
# dist crosses the margin, so a rounding-level change of dist can move a contact's onset by
# one step, i.e. by up to dt |v| <= 0.053 of travel; the bound is two such shifts (2.9e-2).
TOL32 = {"free": 5e-6, "step": 5e-5, "rollout": 0.1}


@functools.cache
def fixture(version):
    with np.load(FIXTURES / f"point_maze_{version}.npz") as data:
        return dict(data)


def episode(version, k):
    data = fixture(version)
    return {key[len(f"ep{k}_"):]: value for key, value in data.items()
            if key.startswith(f"ep{k}_")}


def all_episodes(version):
    return [episode(version, k) for k in range(int(fixture(version)["num_episodes"]))]


@functools.partial(jax.jit, static_argnames=("maze", "reward_type"))
def simulate(maze, reward_type, margin, pos0, vel0, goal, actions, qpos, qvel):
    """Rollout from the initial state, and one step from every recorded state."""
    env = PointMaze(maze, reward_type)
    params = env.default_params.replace(contact_margin=margin)
    key = jax.random.key(0)

    def one(state, action):
        obs, state, reward, terminated, info = env.step_env(key, state, action, params)
        return state, (state.pos, state.vel, obs, reward, info["success"], terminated)

    start = PointMazeState(time=jnp.array(0, jnp.int32), pos=pos0, vel=vel0, goal=goal)
    _, rollout = jax.lax.scan(one, start, actions)
    before = PointMazeState(time=jnp.zeros(len(actions), jnp.int32),
                            pos=jnp.concatenate([pos0[None], qpos[:-1]]),
                            vel=jnp.concatenate([vel0[None], qvel[:-1]]),
                            goal=jnp.broadcast_to(goal, qpos.shape))
    _, forced = jax.vmap(one)(before, actions)
    return rollout, forced


def run(ep, margin, dtype):
    """JAX rollout and teacher-forced steps of a recorded episode, cut to its length."""
    maze, reward_type = ENV_IDS[str(ep["env_id"])]
    steps = len(ep["actions"])
    pad = ((0, PAD - steps), (0, 0))
    cast = lambda x: jnp.asarray(x, dtype)
    rollout, forced = simulate(maze, reward_type, margin, cast(ep["qpos0"]), cast(ep["qvel0"]),
                               cast(ep["goal"]), cast(np.pad(ep["actions"], pad)),
                               cast(np.pad(ep["qpos"], pad)), cast(np.pad(ep["qvel"], pad)))
    return [[np.asarray(x)[:steps] for x in out] for out in (rollout, forced)]


def state_error(ep, out, mask=None):
    err = np.maximum(np.abs(out[0] - ep["qpos"]), np.abs(out[1] - ep["qvel"])).max(-1)
    return float(np.max(err if mask is None else err[mask], initial=0.0))


def free_flight(ep):
    """Steps before the first step that used a wall contact (those states are free flight)."""
    return np.cumsum(ep["contacts"] > 0) == 0


@pytest.fixture(params=["float64", "float32"])
def precision(request):
    if request.param == "float64":
        with jax.enable_x64(True):
            yield jnp.float64, TOL64
    else:
        yield jnp.float32, dict.fromkeys(VERSIONS, TOL32)


@pytest.mark.parametrize("version", VERSIONS)
def test_model_constants_are_mujocos(version):
    data = fixture(version)
    assert float(data["model_body_mass"]) == pytest.approx(physics.MASS, rel=1e-15)
    np.testing.assert_allclose(data["model_body_invweight0"], [1 / physics.MASS, 0], rtol=1e-15)
    assert float(data["model_timestep"]) == physics.TIMESTEP
    np.testing.assert_array_equal(data["model_dof_damping"], physics.DAMPING)
    np.testing.assert_array_equal(data["model_gear"], physics.GEAR)
    assert float(data["model_radius"]) == physics.RADIUS
    np.testing.assert_array_equal(data["model_wall_size"][:2], physics.CELL_HALF_SIZE)
    # the ball's centre (z = 0) lies in the walls' bottom face plane
    assert data["model_wall_pos"][2] == data["model_wall_size"][2]
    np.testing.assert_array_equal(data["model_condim"], 1)  # frictionless contacts
    np.testing.assert_array_equal(data["model_margin"], 0.002)
    np.testing.assert_array_equal(data["model_solref"], [physics.SOLREF] * 2)
    np.testing.assert_array_equal(data["model_solimp"], [physics.SOLIMP] * 2)


@pytest.mark.parametrize("version", VERSIONS)
def test_fixture_exercises_walls_corners_and_clipping(version):
    eps = all_episodes(version)
    contacts = np.concatenate([ep["contacts"] for ep in eps])
    assert np.sum(contacts > 0) > 300 and np.sum(contacts > 1) > 20
    assert not np.any(eps[0]["contacts"])  # the free-flight episode
    assert max(np.abs(ep["qvel"]).max() for ep in eps) > physics.VELOCITY_LIMIT
    assert max(np.abs(ep["actions"]).max() for ep in eps) > physics.CTRL_LIMIT
    assert {str(ep["env_id"]) for ep in eps} == set(ENV_IDS)


@pytest.mark.parametrize("version", VERSIONS)
def test_mujoco_free_flight_is_the_closed_form_of_the_notes(version):
    """The reference itself: before any wall contact, MuJoCo's step is
    ``v = clip(v, -5, 5); v += dt (100 clip(a, -1, 1) - v) / (m + dt); q += dt v``."""
    for ep in all_episodes(version):
        q, v = ep["qpos0"].copy(), ep["qvel0"].copy()
        for t in np.flatnonzero(free_flight(ep)):
            v = np.clip(v, -5, 5)
            v = v + 0.01 * (100 * np.clip(ep["actions"][t], -1, 1) - v) / (physics.MASS + 0.01)
            q = q + 0.01 * v
            np.testing.assert_allclose(np.concatenate([q, v]),
                                       np.concatenate([ep["qpos"][t], ep["qvel"][t]]),
                                       rtol=0, atol=1e-12)


@pytest.mark.parametrize("version", VERSIONS)
def test_free_flight_matches_mujoco(version, precision):
    dtype, tol = precision
    for ep in all_episodes(version):
        rollout, _ = run(ep, VERSIONS[version], dtype)
        assert state_error(ep, rollout, free_flight(ep)) < tol[version]["free"]


@pytest.mark.parametrize("version", VERSIONS)
def test_wall_contacts_match_mujoco(version, precision):
    dtype, tol = precision
    for ep in all_episodes(version):
        rollout, forced = run(ep, VERSIONS[version], dtype)
        assert state_error(ep, forced) < tol[version]["step"]
        assert state_error(ep, rollout) < tol[version]["rollout"]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_other_versions_margin_does_not_match(version):
    """The margin is what tells the two MuJoCo versions apart: with the other one the
    trajectories leave the reference at the first wall contact."""
    other = [m for v, m in VERSIONS.items() if v != version][0]
    with jax.enable_x64(True):
        for k in (3, 4):  # the wall-pressing episodes
            ep = episode(version, k)
            rollout, forced = run(ep, other, jnp.float64)
            assert state_error(ep, forced) > 1e-6
            assert state_error(ep, rollout, free_flight(ep)) < TOL64[version]["free"]


@pytest.mark.parametrize("version", VERSIONS)
def test_observation_reward_success_and_termination_match_mujoco(version):
    with jax.enable_x64(True):
        for ep in all_episodes(version):
            _, forced = run(ep, VERSIONS[version], jnp.float64)
            _, _, obs, reward, success, terminated = forced
            np.testing.assert_allclose(obs, ep["obs"], rtol=0, atol=TOL64[version]["step"])
            np.testing.assert_allclose(reward, ep["reward"], rtol=0, atol=TOL64[version]["step"])
            np.testing.assert_array_equal(success, ep["success"])
            np.testing.assert_array_equal(terminated, ep["terminated"])
            state = PointMazeState(time=0, pos=ep["qpos0"], vel=ep["qvel0"], goal=ep["goal"])
            np.testing.assert_array_equal(point_maze.observation(state), ep["obs0"])
        sparse = episode(version, 6)
        assert 0 < sparse["reward"].sum() < len(sparse["reward"])  # both values occur


def test_truncated_after_300_steps_like_the_time_limit():
    ep = episode("mujoco4", 1)
    assert np.flatnonzero(ep["truncated"]).tolist() == [299]
    env = PointMaze()
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    truncated = []
    for t in range(300):
        _, state, _, terminated, trunc, _ = env.step(jax.random.key(t), state,
                                                     jnp.array([0.1, -0.1]), params)
        truncated.append(bool(trunc))
        assert not terminated
    assert truncated == ep["truncated"].tolist()
    assert int(state.time) == 0  # auto-reset


def cell_centres(maze):
    return np.asarray(point_maze.cell_to_xy(maze, free_cells(maze)))


@pytest.mark.parametrize("version", VERSIONS)
def test_given_cells_map_like_gymnasium_robotics(version):
    for ep in all_episodes(version):
        goal_cell, reset_cell = ep["given_cells"]
        if goal_cell[0] < 0:
            continue
        maze = ENV_IDS[str(ep["env_id"])][0]
        assert np.all(np.abs(ep["goal"] - point_maze.cell_to_xy(maze, goal_cell)) <= 0.25)
        assert np.all(np.abs(ep["qpos0"] - point_maze.cell_to_xy(maze, reset_cell)) <= 0.25)
        np.testing.assert_array_equal(point_maze.xy_to_cell(maze, ep["goal"]), goal_cell)


def test_reset_to_cells_puts_goal_and_start_in_their_cells():
    params = PointMazeParams()
    keys = jax.random.split(jax.random.key(1), 2000)
    goal_cell, reset_cell = jnp.array([3, 5]), jnp.array([3, 5])  # the same cell is allowed
    reset = jax.jit(jax.vmap(reset_to_cells, in_axes=(0, None, None, None)))
    obs, state = reset(keys, params, goal_cell, reset_cell)
    centre = np.asarray(point_maze.cell_to_xy("open", goal_cell))
    for xy in (state.goal, state.pos):
        offset = np.asarray(xy) - centre
        assert np.all(np.abs(offset) <= 0.25) and np.all(np.abs(offset).max(0) > 0.24)
    assert not np.allclose(state.goal, state.pos)  # independent noise
    np.testing.assert_array_equal(state.vel, 0)
    np.testing.assert_array_equal(obs[:, 2:4], state.goal)


def default_reset_cells(maze, goals, starts):
    centres = cell_centres(maze)
    goal_cell = np.asarray(point_maze.xy_to_cell(maze, goals))
    start_cell = np.asarray(point_maze.xy_to_cell(maze, starts))
    index = {tuple(c): i for i, c in enumerate(free_cells(maze).tolist())}
    g = np.array([index[tuple(c)] for c in goal_cell.tolist()])
    s = np.array([index[tuple(c)] for c in start_cell.tolist()])
    assert np.all(np.abs(goals - centres[g]) <= 0.25) and np.all(np.abs(starts - centres[s])
                                                                 <= 0.25)
    return g, s, np.linalg.norm(centres[s] - goals, axis=-1)


@pytest.mark.parametrize("maze", ["open", "u_maze", "medium"])
def test_default_reset_distribution(maze):
    """Goal cell uniform over the free cells; reset cell uniform over those whose centre is
    more than 0.5 from the noisy goal (= every other free cell). The JAX resets (4096 keys) and
    gymnasium-robotics' recorded ones (both versions) both fit that law."""
    env = PointMaze(maze)
    _, state = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(
        jax.random.split(jax.random.key(2), 4096), env.default_params)
    samples = [(np.asarray(state.goal), np.asarray(state.pos))]
    samples += [(fixture(v)[f"resets_{maze}_goal"], fixture(v)[f"resets_{maze}_start"])
                for v in VERSIONS]
    count = len(free_cells(maze))
    for goals, starts in samples:
        g, s, reset_distance = default_reset_cells(maze, goals, starts)
        assert np.all(reset_distance > 0.5) and np.all(g != s)
        assert stats.chisquare(np.bincount(g, minlength=count)).pvalue > 1e-3
        # given the goal cell, the reset cell is uniform over the other K - 1 cells
        shifted = (s - g - 1) % count  # 0 .. K-2 for s != g
        assert stats.chisquare(np.bincount(shifted, minlength=count - 1)).pvalue > 1e-3
    assert set(default_reset_cells(maze, *samples[0])[0].tolist()) == set(range(count))


def test_maps_and_free_cells():
    assert point_maze.maze_map("open").shape == (5, 7)
    np.testing.assert_array_equal(free_cells("open"),
                                  [(i, j) for i in range(1, 4) for j in range(1, 6)])
    for maze in point_maze.MAZE_MAPS:
        grid = point_maze.maze_map(maze)
        cells = free_cells(maze)
        assert np.all(grid[tuple(cells.T)] == 0) and len(cells) == np.sum(grid == 0)
        assert np.all(grid[[0, -1]] == 1) and np.all(grid[:, [0, -1]] == 1)
        np.testing.assert_array_equal(
            point_maze.xy_to_cell(maze, point_maze.cell_to_xy(maze, cells)), cells)


def test_jit_vmap_dtypes_and_gymnax_registration():
    register_point_maze()
    register_point_maze()  # idempotent
    env, params = gymnax.make("PointMaze-v3", maze="u_maze")
    assert env.name == "PointMaze_UMazeDense-v3" and params.max_steps_in_episode == 300
    assert PointMaze("large", "sparse").name == "PointMaze_Large-v3"
    keys = jax.random.split(jax.random.key(3), 8)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    assert obs.shape == (8, 8) and obs.dtype == jnp.float32
    actions = jnp.ones((8, 2))
    obs, state, reward, *_ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
        keys, state, actions, params)
    assert obs.dtype == jnp.float32 and reward.shape == (8,)
    with jax.enable_x64(True):
        obs, state = env.reset(jax.random.key(0), params)
        assert obs.dtype == jnp.float64 and state.pos.dtype == jnp.float64


def test_bad_input_names_the_field():
    cases = [(lambda: PointMazeParams(maze="spiral"), "maze"),
             (lambda: PointMaze("spiral"), "maze"),
             (lambda: point_maze.maze_map("spiral"), "maze"),
             (lambda: PointMazeParams(reward_type="shaped"), "reward_type"),
             (lambda: PointMazeParams(contact_margin=-0.001), "contact_margin"),
             (lambda: PointMazeParams(max_steps_in_episode=0), "max_steps_in_episode"),
             (lambda: reset_to_cells(jax.random.key(0), PointMazeParams(), (0, 3), (1, 1)),
              "goal_cell"),
             (lambda: reset_to_cells(jax.random.key(0), PointMazeParams(), (1, 1), (9, 1)),
              "reset_cell"),
             (lambda: reset_to_cells(jax.random.key(0), PointMazeParams(maze="u_maze"),
                                     (1, 1), (2, 1)), "reset_cell")]
    for make, field in cases:
        with pytest.raises(ValueError, match=field) as err:
            make()
        assert "\n" not in str(err.value) and str(err.value).startswith(field)
