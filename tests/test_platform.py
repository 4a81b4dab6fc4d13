"""The platform's extension points, through the worked example package
``examples/pendulum_starts`` installed into a folder of the test's own (its start space, its
start teacher and its experiment found by entry points), and through ``"package.module:NAME"``
references: ``jaxcurr list`` shows the experiment, ``jaxcurr run`` runs it by name, a resumed
run equals an uninterrupted one, ``jaxcurr plot`` draws it and a sweep runs; the box start
space's starts against the points chosen; a kind and a gymnax env of one's own by reference."""

import json
import subprocess
import sys
from pathlib import Path

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcurr import cli
from jaxcurr.core import plugins
from jaxcurr.core.validation import ConfigError
from jaxcurr.envs.start_spaces import box_start_space
from jaxcurr.run.run_dir import load_metrics
from tests.test_kinds import _assert_same_run, _interrupt_after_first_checkpoint

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pendulum_starts"
TINY = ["--set", "run.total_steps=800", "--set", "run.eval_every=400", "--set", "run.seeds=2",
        "--set", "run.eval_episodes=1", "--set", "run.chunk_logs=1",
        "--set", "sac.hidden=[16]", "--set", "sac.batch_size=16",
        "--set", "sac.random_steps=100", "--set", "sac.learning_starts=200",
        "--set", "sac.buffer_size=800", "--set", "teacher.hidden=[8]",
        "--set", "teacher.episodes_per_trajectory=2", "--no-progress"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example package pip-installed (no dependencies: jaxcurr is here already) into a
    folder put first on ``sys.path`` for this module's tests."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
                   check=True, capture_output=True)
    sys.path.insert(0, str(target))
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith("pendulum_starts")]:
        del sys.modules[name]


def test_entry_points_are_found(installed):
    assert "pendulum" in plugins.registered("jaxcurr.start_spaces")
    assert "widening_box" in plugins.registered("jaxcurr.start_teachers")


def test_list_shows_the_example_experiment(installed, capsys):
    assert cli.main(["list"]) == 0
    assert "pendulum_starts" in capsys.readouterr().out


def test_run_resume_plot_and_sweep_by_name(installed, tmp_path, monkeypatch, capsys):
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    assert cli.main(["run", "pendulum_starts", "--out", str(straight), *TINY]) == 0
    with monkeypatch.context() as patch:
        _interrupt_after_first_checkpoint(patch)
        assert cli.main(["run", "pendulum_starts", "--out", str(cut), *TINY]) == 130
    assert cli.main(["run", "pendulum_starts", "--out", str(cut), "--resume", *TINY]) == 0
    _assert_same_run(straight, cut)

    metrics = load_metrics(cut)
    assert list(metrics.points) == ["no_teacher", "widening_box:return", "mean_norm"]
    assert np.all(np.isnan(metrics["eval_success"]))  # Pendulum reports no success
    assert np.all(np.isfinite(metrics["eval_return"]))
    theta = metrics.final["theta"]  # [point, seed, episode]: the starts as logged
    box = np.abs(theta[1] - 0.0)  # the widening box starts near upright (theta = 0)
    assert np.nanmax(box) < np.pi * 2 * (0.05 + 0.02 * 4) + 1e-6
    assert np.nanmax(np.abs(theta[0])) > np.nanmax(box)  # default resets spread wider

    capsys.readouterr()
    assert cli.main(["plot", str(cut)]) == 0
    assert list((cut / "figures").glob("*.png"))

    swept = tmp_path / "swept"
    assert cli.main(["run", "pendulum_starts", "--out", str(swept), *TINY,
                     "--set", "sweep.sac.temperature=[0.05, 0.2]",
                     "--set", 'methods.names=["no_teacher", "widening_box:return"]']) == 0
    points = load_metrics(swept).points
    assert len(points) == 4 and json.loads((swept / "summary.json").read_text())["finished"]


def test_box_start_space_starts_where_the_teacher_points():
    env, params = gymnax.make("Pendulum-v1")
    space = box_start_space(
        env, params, (-np.pi, -1.0), (np.pi, 1.0),
        set_point=lambda s, p: s.replace(theta=p[0], theta_dot=p[1]),
        get_point=lambda s: jnp.stack([s.theta, s.theta_dot]), bins=3)
    units = jax.random.uniform(jax.random.PRNGKey(0), (16, 2))
    obs, states = jax.vmap(space.reset_to)(jax.random.split(jax.random.PRNGKey(1), 16), units)
    points = np.asarray(jax.vmap(space.describe)(states))
    expected = np.array([-np.pi, -1.0]) + np.asarray(units) * np.array([2 * np.pi, 2.0])
    np.testing.assert_allclose(points, expected, rtol=1e-6, atol=1e-6)
    # Pendulum's observation is [cos theta, sin theta, theta_dot]
    np.testing.assert_allclose(obs, np.stack([np.cos(expected[:, 0]), np.sin(expected[:, 0]),
                                              expected[:, 1]], -1), atol=1e-5)
    cells = np.floor(np.asarray(units) * 3).astype(int)
    np.testing.assert_array_equal(jax.vmap(space.level_of)(jnp.asarray(points)),
                                  cells[:, 0] * 3 + cells[:, 1])
    assert space.levels.shape == (9, 2) and space.fixed_length is False


def test_bad_references_are_one_line_naming_the_setting(tmp_path):
    with pytest.raises(ConfigError, match=r"^kind: cannot import 'no_such_pkg.mod' \(No module"):
        from jaxcurr.kinds import get_kind

        get_kind("no_such_pkg.mod:KIND")
    with pytest.raises(ConfigError, match=r"^kind: got 'nonsense'; allowed: .*'package"):
        get_kind("nonsense")
    from jaxcurr.kinds import initial_state_curriculum as kind

    with pytest.raises(ConfigError, match=r"^env.name: module 'json' has no 'nope'"):
        kind.from_dict({"env": {"name": "json:nope"}})


def test_a_kind_and_an_env_of_ones_own_by_reference(tmp_path, monkeypatch, capsys):
    """A kind module and a gymnax env factory in a folder on the path, named in a TOML."""
    (tmp_path / "my_plugins.py").write_text(
        "import gymnax\n"
        "from jaxcurr.kinds import get_kind\n"
        "KIND = get_kind('discrete_sac')._replace(description='my own kind')\n"
        "def short_cartpole():\n"
        "    env, params = gymnax.make('CartPole-v1')\n"
        "    return env, params.replace(max_steps_in_episode=20)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from tests.test_kinds import sac_values

    values = sac_values()
    values["kind"] = "my_plugins:KIND"
    values["env"] = {"name": "my_plugins:short_cartpole"}
    import tomli_w

    path = tmp_path / "mine.toml"
    path.write_bytes(tomli_w.dumps(values).encode())
    out = tmp_path / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--no-progress"]) == 0
    saved = (out / "config.toml").read_text()
    assert 'kind = "my_plugins:KIND"' in saved and "my_plugins:short_cartpole" in saved
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "my_plugins:KIND" and summary["finished"]
    assert cli.main(["plot", str(out)]) == 0  # the saved config finds the kind again


def test_plr_buffer_larger_than_a_small_space_names_what_to_set(tmp_path, monkeypatch):
    """A start space of 4 levels: Robust PLR's default buffer (64) is refused naming the
    setting and the number to set when a method uses PLR, and left unused otherwise."""
    (tmp_path / "small_space.py").write_text(
        "import gymnax, jax.numpy as jnp\n"
        "from jaxcurr.envs.start_spaces import box_start_space\n"
        "def make():\n"
        "    env, params = gymnax.make('Pendulum-v1')\n"
        "    return box_start_space(env, params, (-1.0, -1.0), (1.0, 1.0),\n"
        "        lambda s, p: s.replace(theta=p[0], theta_dot=p[1]),\n"
        "        lambda s: jnp.stack([s.theta, s.theta_dot]), bins=2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from jaxcurr.kinds import initial_state_curriculum as kind
    from tests.test_kinds import start_curriculum_values

    values = start_curriculum_values()
    values["env"] = {"name": "small_space:make"}
    values["methods"]["names"] = ["no_teacher", "plr:return"]
    with pytest.raises(ConfigError, match=r"^teacher.plr_buffer_size: got 64; allowed: .*4 "
                                          r"levels \(set teacher.plr_buffer_size = 4 or less\)"):
        kind.build_program(kind.from_dict(values))
    values["methods"]["names"] = ["no_teacher", "alp_gmm:return"]
    assert kind.build_program(kind.from_dict(values)).init is not None
