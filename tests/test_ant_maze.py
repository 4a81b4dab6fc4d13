"""AntMaze_*-v4 (jaxcurr.envs.mujoco.ant_maze) against gymnasium-robotics + MuJoCo.

tests/fixtures/ant_maze.npz holds three 150-step episodes of the real environments (open and
U-maze, from given cells; mujoco 4.0.0, gymnasium-robotics 1.4.2, gymnasium 1.3; recorded by
tests/fixtures/record_ant_maze.py) and 1000 default resets of the open map. The host path runs
the same C engine, so its states match bit for bit; MJX (float32, its own contact solver) is
held to 10x the error measured over its first 10 steps (``MJX_QPOS_TOLERANCE``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

pytest.importorskip("mujoco")
pytest.importorskip("gymnasium_robotics")

from jaxcurr.envs import start_spaces  # noqa: E402
from jaxcurr.envs.mujoco import ant_maze  # noqa: E402
from jaxcurr.envs.mujoco.ant_maze import AntMaze  # noqa: E402
from jaxcurr.envs.point_maze import env as point_maze  # noqa: E402

FIXTURE = np.load("tests/fixtures/ant_maze.npz")
MJX_STEPS = 10


def _episode(env: AntMaze, i: int, steps: int):
    params = env.default_params

    def run(goal, start, actions):
        obs0, state = env.reset_at(goal, start)

        def body(state, action):
            obs, state, reward, _, info = env.step_env(jax.random.key(0), state, action, params)
            return state, (obs, reward, info["success"], state.physics)

        return obs0, jax.lax.scan(body, state, actions)[1]

    f = FIXTURE
    return jax.jit(run)(f["goal"][i], f["start"][i], f["actions"][i][:steps])


@pytest.mark.parametrize("i", range(3))
def test_host_physics_matches_mujoco_bit_for_bit(i):
    env = AntMaze(str(FIXTURE["maps"][i]), "host")
    obs0, (obs, reward, success, physics) = _episode(env, i, 150)
    qpos, qvel = env.physics.qpos_qvel(physics)
    np.testing.assert_array_equal(qpos, FIXTURE["qpos"][i])
    np.testing.assert_array_equal(qvel, FIXTURE["qvel"][i])
    np.testing.assert_allclose(obs0, FIXTURE["obs0"][i], atol=1e-6)
    np.testing.assert_allclose(obs, FIXTURE["obs"][i], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(reward, FIXTURE["reward"][i], atol=1e-6)
    np.testing.assert_array_equal(success, FIXTURE["success"][i])


def test_mjx_physics_follows_mujoco_over_the_first_steps():
    env = AntMaze("open", "mjx")
    obs0, (obs, reward, _, physics) = _episode(env, 0, MJX_STEPS)
    np.testing.assert_allclose(obs0, FIXTURE["obs0"][0], atol=1e-6)
    error = np.abs(np.asarray(physics["qpos"]) - FIXTURE["qpos"][0, :MJX_STEPS])
    assert error.max() < MJX_QPOS_TOLERANCE
    np.testing.assert_allclose(reward, FIXTURE["reward"][0, :MJX_STEPS], atol=1e-3)


def test_default_resets_match_gymnasium_robotics_distribution():
    env = AntMaze("open", "host")
    keys = jax.random.split(jax.random.key(5), len(FIXTURE["resets"]))
    obs, states = jax.jit(jax.vmap(env.reset_env, in_axes=(0, None)))(keys, env.default_params)
    ours = np.concatenate([states.goal, states.pos], axis=-1)
    for k in range(4):
        assert stats.ks_2samp(ours[:, k], FIXTURE["resets"][:, k]).pvalue > 1e-3
    # the start cell's centre is more than 2 from the noisy goal, as gymnasium-robotics draws
    centre = np.asarray(ant_maze.cell_to_xy("open", ant_maze.xy_to_cell("open", ours[:, 2:])))
    assert np.all(np.linalg.norm(centre - ours[:, :2], axis=1) > 2.0)
    np.testing.assert_array_equal(obs[:, 4:7], np.tile([0.75, 1.0, 0.0], (len(obs), 1)))


def test_start_space_cells_and_bad_cells():
    maze = ant_maze.make_ant_maze("u_maze", "host")
    space = start_spaces.maze_start_space(maze)
    grid = point_maze.maze_map("u_maze")
    units = jax.random.uniform(jax.random.key(0), (64, 4))
    _, states = jax.vmap(space.reset_to, in_axes=(None, 0))(jax.random.key(1), units)
    cells = np.asarray(ant_maze.xy_to_cell("u_maze", states.pos))
    assert np.all(grid[cells[:, 0], cells[:, 1]] == 0)
    assert np.all(np.abs(states.pos - ant_maze.cell_to_xy("u_maze", cells)) <= 1.0)
    with pytest.raises(ValueError, match=r"goal_cell must be an integer \(row, col\) free"):
        maze.reset_to_cells(jax.random.key(0), maze.params, jnp.array([2, 1]),
                            jnp.array([1, 1]))
    with pytest.raises(ValueError, match=r"maze must be one of"):
        AntMaze("spiral", "host")


# measured over the first 10 steps of episode 0: 1.0e-5 (step 1: 5.9e-7); after the legs'
# contacts multiply the trajectories part (0.24 at step 50, 1.4 at step 150)
MJX_QPOS_TOLERANCE = 1e-4


def test_the_curriculum_kind_builds_the_ant_maze_start_space():
    """The kind's ``env.name = "ant_maze"`` wiring (the program itself is the same one the
    Relocate resume test in tests/test_kinds.py runs through the CLI)."""
    from jaxcurr.kinds import initial_state_curriculum as kind

    config = kind.from_dict({"name": "ant", "kind": "initial_state_curriculum",
                             "env": {"name": "ant_maze", "physics": "host"},
                             "maze": {"map": "u_maze"}})
    space = kind.start_space(config)
    assert isinstance(space.env, AntMaze) and space.max_steps == 700
    assert space.log_names == ("goal_cell", "reset_cell") and len(space.levels) == 7 * 7
    obs, state = space.reset_to(jax.random.key(0), jnp.array([0.9, 0.1, 0.1, 0.1]))
    np.testing.assert_array_equal(ant_maze.xy_to_cell("u_maze", state.goal), [3, 1])
    np.testing.assert_array_equal(ant_maze.xy_to_cell("u_maze", state.pos), [1, 1])
    assert obs.shape == (31,) and float(space.distance(space.describe(state))) > 4.0
