"""The initial-state curriculum program (PointMaze + SAC + start teacher), CI-sized: every
start the teacher picks is a free cell and matches where the episode began; the default reset
is used without a teacher; signals are zero before learning starts and positive after; the
window metrics agree with the per-episode logs."""

import jax
import numpy as np
import pytest

from jaxcurr.curricula.initial_state import Method
from jaxcurr.envs.point_maze import env as point_maze
from jaxcurr.kinds import initial_state_curriculum as kind
from jaxcurr.signals.actor_gradients import RL_SIGNALS
from tests.test_kinds import start_curriculum_values


def _run(values: dict, seed: int, num_windows: int):
    """Every method of ``values`` for ``num_windows`` windows: config, names, final state and
    each window's metrics."""
    config = kind.from_dict(values)
    program = kind.build_program(config)
    names, switches = kind.methods(config)
    methods = Method(switches["teacher"], switches["signal"])
    keys = jax.random.split(jax.random.PRNGKey(seed), len(names))
    state = jax.jit(jax.vmap(program.init))(keys, methods)
    window = jax.jit(jax.vmap(program.window))
    windows = []
    for _ in range(num_windows):
        state, metrics = window(state, methods)
        windows.append(jax.device_get(metrics))
    return config, names, jax.device_get(state), windows



@pytest.fixture(scope="module")
def finished():
    values = start_curriculum_values()
    values["methods"]["names"] = list(kind.METHODS)
    return _run(values, 0, 4)


def test_teacher_starts_are_free_cells_and_default_resets_are_not_on_cells(finished):
    config, names, state, _ = finished
    grid = point_maze.maze_map(config.maze.map)
    for m, name in enumerate(names):
        n = int(state.episodes[m])
        assert n == 1200 // 300
        for key in ("goal_cell", "reset_cell"):
            cells = state.log[key][m, :n]
            if name == "no_teacher":
                assert np.all(np.isnan(cells))
            else:
                rows, cols = np.divmod(cells.astype(int), grid.shape[1])
                assert np.all(grid[rows, cols] == 0)
        # the logged goal distance is that of the episode's actual start (within the noise)
        distance = state.log["goal_distance"][m, :n]
        assert np.all((distance >= 0) & (distance < np.hypot(*grid.shape)))


def test_signals_zero_before_learning_and_positive_after(finished):
    _, names, state, _ = finished
    end = state.log["end_step"]
    for signal in RL_SIGNALS:
        values = state.log[f"signal_{signal}"]
        assert np.all(values[:, 0] == 0.0)  # episode 1 ends at step 300 < learning_starts
        assert np.all(values[:, 1:4] > 0) and np.all(end[:, 1:4] > 350)


def test_window_metrics_match_episode_logs(finished):
    _, names, state, windows = finished
    for w, metrics in enumerate(windows):
        assert np.all(metrics["env_steps"] == 300 * (w + 1))
        np.testing.assert_allclose(metrics["train_return"], state.log["return"][:, w], rtol=1e-6)
        assert np.all((metrics["eval_success"] >= 0) & (metrics["eval_success"] <= 1))
        assert np.all(metrics["eval_return"] > 0)  # dense reward exp(-d) > 0


@pytest.mark.parametrize("section, key, value, field", [
    ("methods", "names", ["no_teacher", "loss"], "methods.names"),
    ("maze", "map", "spiral", "maze.map"),
    ("maze", "contact_margin", -0.1, "maze.contact_margin"),
    ("sac", "temperature", -1.0, "sac.temperature"),
    ("teacher", "std", 0.0, "teacher.std"),
    ("run", "eval_every", 0, "run.eval_every"),
])
def test_bad_settings_are_one_line_naming_the_field(section, key, value, field):
    from jaxcurr.core.validation import ConfigError

    values = start_curriculum_values()
    values.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as caught:
        kind.from_dict(values)
    message = str(caught.value)
    assert message.startswith(field) and "\n" not in message and "allowed" in message


@pytest.fixture(scope="module")
def other_teachers():
    """ALP-GMM, Robust PLR and REINFORCE on the episode scores, beside no teacher."""
    values = start_curriculum_values(total_steps=2400)
    values["methods"]["names"] = ["no_teacher", "alp_gmm:return", "plr:positive_value_loss",
                                  "reinforce:return_progress", "plr:max_mc"]
    values["teacher"].update(alp_fit_every=3, alp_fit_window=6, alp_history=8,
                             alp_max_components=2, plr_buffer_size=3, plr_replay_prob=0.9)
    return _run(values, 1, 8)[:3]


def test_any_start_teacher_with_any_score(other_teachers):
    """Every teacher's starts are free cells; return progress is |G - G_prev| of the same
    (goal, start) cells; the value scores are finite and nonzero once learning runs; PLR
    replays levels from its buffer (some start pair repeats)."""
    config, names, state = other_teachers
    grid = point_maze.maze_map(config.maze.map)
    n = 2400 // 300
    assert np.all(state.episodes == n)
    for m, name in enumerate(names):
        cells = np.stack([state.log["goal_cell"][m, :n], state.log["reset_cell"][m, :n]], 1)
        if name == "no_teacher":
            assert np.all(np.isnan(cells))
            continue
        rows, cols = np.divmod(cells.astype(int), grid.shape[1])
        assert np.all(grid[rows, cols] == 0), name
        returns, progress = state.log["return"][m, :n], state.log["signal_return_progress"][m, :n]
        last = {}
        for e, pair in enumerate(map(tuple, cells)):
            np.testing.assert_allclose(progress[e], abs(returns[e] - last[pair])
                                       if pair in last else 0.0, rtol=1e-5, atol=1e-6)
            last[pair] = returns[e]
        if name.startswith("plr"):
            assert len(set(map(tuple, cells))) < n, cells  # a replay
        for score in ("positive_value_loss", "max_mc"):
            late = state.log[f"signal_{score}"][m, 2:n]  # learning starts at step 350
            assert np.all(np.isfinite(late)) and np.all(late != 0), (name, score)
        np.testing.assert_allclose(state.log["signal_return"][m, :n], returns, rtol=1e-6)


def test_a_bad_teacher_signal_method_names_the_field():
    values = start_curriculum_values()
    values["methods"]["names"] = ["no_teacher", "plr:accuracy"]
    with pytest.raises(ValueError, match=r"^methods\.names: got .*'TEACHER:SIGNAL'"):
        kind.from_dict(values)


def test_episode_loop_gives_the_bits_of_the_step_loop(monkeypatch):
    """Windows of 450 steps cut the open maze's 300-step episodes: the episode loop (blocks
    of gcd(450, 300) = 150 student steps, the teacher's work once per block) and the episode
    work after every step give the same states and metrics, bit for bit, for a REINFORCE,
    an ALP-GMM and a PLR method."""
    from jaxcurr.curricula import initial_state as curriculum

    values = start_curriculum_values(total_steps=900, eval_every=450)
    values["methods"]["names"] = ["mean_norm", "alp_gmm:return", "plr:max_mc"]
    config = kind.from_dict(values)
    space = kind.start_space(config)
    assert space.fixed_length and space.max_steps == 300
    names, switches = kind.methods(config)
    methods = Method(switches["teacher"], switches["signal"])
    keys = jax.random.split(jax.random.PRNGKey(3), len(names))
    results = []
    original = curriculum.make_program
    for loop in (True, False):  # False: the same program, the episode work after every step
        monkeypatch.setattr(curriculum, "make_program",
                            lambda *a, loop=loop, **k: original(*a, **k, episode_loop=loop))
        program = kind.build_program(config, space)
        state = jax.jit(jax.vmap(program.init))(keys, methods)
        window = jax.jit(jax.vmap(program.window))
        metrics = []
        for _ in range(2):
            state, m = window(state, methods)
            metrics.append(m)
        results.append(jax.device_get((state, metrics)))
    looped, stepped = (jax.tree.leaves(r) for r in results)
    assert len(looped) == len(stepped) > 50
    for a, b in zip(looped, stepped, strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(results[0][0].episodes[0]) == 3  # episodes ended at 300, 600 and 900
