"""Every experiment kind through the CLI: interrupted after a checkpoint and resumed equals an
uninterrupted run exactly; the non-finite guard; sweeps; metric sinks; run-directory layout."""

import json
import pathlib

import numpy as np
import pytest
import tomli_w

from jaxcurr import cli
from jaxcurr.run import execution
from jaxcurr.run.run_dir import load_metrics


def tabular_values(**run):
    return {"name": "tab", "kind": "tabular_pg",
            "task": {"name": "mdp_5s5a_uniform", "mode": "stochastic"},
            "optimizers": {"spg_nm_readings": ["literal/always"]},
            "run": {"seeds": 2, "steps": 40, "log_every": 5, "chunk_logs": 2,
                    "checkpoint_every": 1, "allow_nonfinite": True, **run}}


def sac_values(**run):
    return {"name": "sac", "kind": "discrete_sac", "variants": {"names": ["plain", "both"]},
            "env": {"name": "FourRooms-Grade-v0", "start": [8, 10], "max_steps_in_episode": 40},
            "sac": {"hidden": 16, "batch_size": 16, "buffer_size": 200, "random_steps": 50,
                    "num_episodes": 6, "max_env_steps": 400},
            "run": {"seeds": 2, "window_steps": 50, "chunk_logs": 2, "checkpoint_every": 1,
                    **run}}


def ppo_values(algo, **run):
    sizes = ({"num_envs": 2, "num_steps": 16, "total_timesteps": 320, "hidden": [16]}
             if algo == "ppo" else {"num_episodes": 8, "hidden": [16]})
    return {"name": algo, "kind": "ppo", "variants": {"names": ["plain", "grade"]},
            "env": {"name": "CartPole-v1", "max_steps_in_episode": 30},
            "agent": {"algo": algo}, algo: sizes, "report": {"greedy_episodes": 2},
            "run": {"seeds": 2, "window_updates": 2, "chunk_logs": 1, "checkpoint_every": 1,
                    **run}}


def start_curriculum_values(**run):
    return {"name": "maze", "kind": "initial_state_curriculum",
            "methods": {"names": ["no_teacher", "sum_norm"]},
            "sac": {"hidden": [16], "batch_size": 16, "random_steps": 100,
                    "learning_starts": 350, "buffer_size": 1000},
            "teacher": {"hidden": [8], "episodes_per_trajectory": 2},
            "run": {"seeds": 2, "total_steps": 1200, "eval_every": 300, "eval_episodes": 2,
                    "chunk_logs": 2, "checkpoint_every": 1, **run}}


def adroit_curriculum_values(**run):
    values = start_curriculum_values(total_steps=800, eval_every=400, eval_episodes=1,
                                     chunk_logs=1, **run)
    values["env"] = {"name": "adroit_relocate", "physics": "host"}
    values["sac"].update(learning_starts=300, buffer_size=500)
    return values


def _write(tmp_path, values, name="exp.toml"):
    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(values).encode())
    return path


def _interrupt_after_first_checkpoint(monkeypatch):
    original = execution._Writer.checkpoint

    def checkpoint(self, result):
        original(self, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(execution._Writer, "checkpoint", checkpoint)


def _cli(*args):
    return cli.main(["run", *map(str, args), "--no-progress"])


def _assert_same_run(a, b):
    ma, mb = load_metrics(a), load_metrics(b)
    assert set(ma) == set(mb) and set(ma.final) == set(mb.final) and len(ma) > 0
    for name in ma:
        np.testing.assert_array_equal(ma[name], mb[name], err_msg=name)
    for name in ma.final:
        np.testing.assert_array_equal(ma.final[name], mb.final[name], err_msg=name)
    np.testing.assert_array_equal(ma.step, mb.step)


KINDS = {
    "classifier_curriculum": lambda tiny: tiny(run={"steps": 40, "log_every": 10,
                                                   "chunk_logs": 1, "checkpoint_every": 1}),
    "tabular_pg": lambda tiny: tabular_values(),
    "discrete_sac": lambda tiny: sac_values(),
    "ppo": lambda tiny: ppo_values("ppo"),
    "ppo_episodic": lambda tiny: ppo_values("ppo_episodic"),
    # The initial-state kind on AdroitHandRelocate with MuJoCo's host physics, whose state
    # round-trips through checkpoints; its PointMaze program resumes in
    # tests/test_old_run_directories.py (an old interrupted run to the old straight result).
    "initial_state_curriculum_adroit": lambda tiny: adroit_curriculum_values(),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_interrupted_and_resumed_equals_uninterrupted(kind, tiny_config, tmp_path, monkeypatch,
                                                      capsys):
    path = _write(tmp_path, KINDS[kind](tiny_config))
    assert _cli(path, "--out", tmp_path / "straight") == 0
    with monkeypatch.context() as patch:
        _interrupt_after_first_checkpoint(patch)
        assert _cli(path, "--out", tmp_path / "cut") == 130
    assert "--resume" in capsys.readouterr().err
    partial = load_metrics(tmp_path / "cut")  # what a checkpoint leaves is readable
    assert 0 < partial.step.size < load_metrics(tmp_path / "straight").step.size
    assert cli.main(["plot", str(tmp_path / "cut")]) == 0  # plot works on the partial run
    assert _cli(path, "--out", tmp_path / "cut", "--resume") == 0
    _assert_same_run(tmp_path / "straight", tmp_path / "cut")
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["finished"] and summary["kind"] == kind.removesuffix(
        "_episodic").removesuffix("_adroit")
    if kind.startswith("ppo"):  # the final policies' greedy returns, 2 episodes per run
        assert load_metrics(tmp_path / "cut").final["greedy_return"].shape == (2, 2, 2)
        assert summary["variants"]["grade"]["greedy_return"]["mean"] > 0  # CartPole pays 1/step
    first = json.loads((tmp_path / "straight" / "summary.json").read_text())
    steps = load_metrics(tmp_path / "cut").step
    # the resumed process counts only its own steps; the whole run's time spans both processes
    assert summary["steps_this_process"] < first["steps_this_process"] == int(steps[-1])
    assert summary["run_seconds_total"] > summary["run_seconds_this_process"]
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    windows = [json.loads(line)["window"] for line in lines]
    assert windows == list(range(load_metrics(tmp_path / "cut").step.size))


def test_diverging_run_stops_with_one_line_and_keeps_the_last_finite_checkpoint(tmp_path,
                                                                             capsys):
    """SPG-NM's literal reading without its commit test multiplies the logits by about lam
    every step: with lam = 10 in float32 they overflow at step 71-75 (window 14)."""
    values = {"name": "div", "kind": "tabular_pg", "task": {"x64": False},
              "optimizers": {"names": ["spg_nm"], "spg_nm_lam": 10.0,
                             "spg_nm_commit": "always"},
              "run": {"seeds": 1, "steps": 100, "log_every": 5, "chunk_logs": 1,
                      "checkpoint_every": 1}}
    out = tmp_path / "run"
    path = _write(tmp_path, values)
    assert _cli(path, "--out", out) == 3
    err = capsys.readouterr().err.strip()
    assert err == ("jaxcurr: error: non-finite spg_nm/gap (nan) at point 'all', seed 0, window "
                   "14 (step 75): stopped; the run keeps its metrics up to chunk 14 of 20 and "
                   "its last checkpoint (chunk 14); set run.allow_nonfinite = true where "
                   "non-finite values are expected")
    kept = load_metrics(out)
    assert kept.step.tolist() == list(range(5, 75, 5))
    for name, value in kept.items():
        assert np.all(np.isfinite(value)), name
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir())[-1] == 14
    assert _cli(path, "--out", out, "--resume") == 3  # resumes from 14, stops there again
    assert "window 14 (step 75)" in capsys.readouterr().err
    # With the switch on, the run goes on and the summary counts the non-finite windows.
    assert _cli(path, "--out", tmp_path / "allowed", "--set", "run.allow_nonfinite=true") == 0
    summary = json.loads((tmp_path / "allowed" / "summary.json").read_text())
    assert summary["nonfinite_windows"]["spg_nm/gap"]["all"] == [6]
    assert summary["by_point"]["all"]["spg_nm"]["final_gap"]["mean"] is None  # valid JSON null
    # The stopped run resumes with the switch on, to the same windows as the run made with it.
    assert _cli(path, "--out", out, "--resume", "--set", "run.allow_nonfinite=true") == 0
    resumed, allowed = load_metrics(out), load_metrics(tmp_path / "allowed")
    assert resumed.step.tolist() == allowed.step.tolist() == list(range(5, 105, 5))
    for name in allowed:
        np.testing.assert_array_equal(resumed[name], allowed[name], err_msg=name)
    assert "allow_nonfinite = true" in (out / "config.toml").read_text()


def test_student_learning_rate_that_diverges_stops_the_classifier(tiny_config, tmp_path,
                                                                  capsys):
    values = tiny_config(student={"learning_rate": 1e20},
                         run={"steps": 20, "log_every": 10, "methods": ["uniform"]})
    assert _cli(_write(tmp_path, values), "--out", tmp_path / "run") == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "non-finite uniform/" in err and "seed " in err


def test_a_two_value_sweep_equals_two_separate_runs(tiny_config, tmp_path):
    base = tiny_config(run={"steps": 30, "log_every": 10, "chunk_logs": 3,
                            "methods": ["uniform", "momentum_correlation"]})
    swept = {**base, "sweep": {"student": {"learning_rate": [1e-3, 5e-3]},
                               "teacher": {"learning_rate": [1e-2]}}}
    assert _cli(_write(tmp_path, swept), "--out", tmp_path / "sweep") == 0
    together = load_metrics(tmp_path / "sweep")
    assert together.points == ["student.learning_rate=0.001, teacher.learning_rate=0.01",
                               "student.learning_rate=0.005, teacher.learning_rate=0.01"]
    np.testing.assert_allclose(together.sweep["student.learning_rate"], [1e-3, 5e-3])
    for p, lr in enumerate((1e-3, 5e-3)):
        alone = dict(base)
        alone["student"] = {**base["student"], "learning_rate": lr}
        alone["teacher"] = {**base["teacher"], "learning_rate": 1e-2}
        assert _cli(_write(tmp_path, alone, f"alone{p}.toml"), "--out", tmp_path / f"a{p}") == 0
        single = load_metrics(tmp_path / f"a{p}")
        for name, value in single.items():
            np.testing.assert_allclose(together[name][p], value[0], rtol=2e-5, atol=1e-6,
                                       err_msg=name)
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    assert len(summary["by_point"]) == 2


def test_bad_sweeps_are_one_line(tiny_config, tmp_path, capsys):
    for sweep, message in (({"student": {"hidden": [1, 2]}}, "sweep.student.hidden: got"),
                           ({"student": {"learning_rate": [-1.0]}},
                            "student.learning_rate: got -1.0"),
                           ({"student": {"learning_rate": []}}, "a non-empty list")):
        values = {**tiny_config(), "sweep": sweep}
        assert _cli(_write(tmp_path, values), "--out", tmp_path / "r") == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and message in err, err
        assert not (tmp_path / "r").exists()


def test_tensorboard_and_wandb_sinks_through_the_cli(tiny_config, tmp_path, monkeypatch):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("wandb")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    values = tiny_config(run={"steps": 20, "log_every": 10, "chunk_logs": 1,
                              "methods": ["uniform"], "sinks": ["tensorboard", "wandb"]})
    out = tmp_path / "run"
    assert _cli(_write(tmp_path, values), "--out", out) == 0
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    loss = load_metrics(out)["uniform/train_loss"][0].mean(0)  # mean over seeds per window
    scalars = events.Scalars("uniform/train_loss")
    assert [s.step for s in scalars] == [10, 20]
    np.testing.assert_allclose([s.value for s in scalars], loss, rtol=1e-6)
    assert any((out / "wandb").glob("offline-run-*/run-*.wandb"))
    # the teacher's task distribution is logged per task
    assert "uniform/task_probs/9" in events.Tags()["scalars"]


@pytest.mark.parametrize("kind", ["ppo", "discrete_sac"])
def test_rl_hyperparameter_sweep_equals_separate_runs(kind, tmp_path):
    """Swept RL hyperparameters are traced leaves of one program; each point matches its own
    run (short runs: RL amplifies the float rounding of a different batch)."""
    if kind == "ppo":
        values, key, options = ppo_values("ppo"), "ppo.entropy_coef", [0.0, 0.05]
        values["ppo"]["total_timesteps"] = 64
    else:
        values, key, options = sac_values(), "sac.grokfast_lamb", [1.0, 4.0]
        values["sac"].update(num_episodes=2, max_env_steps=150)
    values["variants"] = {"names": ["both"]}
    section, field = key.split(".")
    swept = {**values, "sweep": {section: {field: options}}}
    assert _cli(_write(tmp_path, swept), "--out", tmp_path / "sweep") == 0
    together = load_metrics(tmp_path / "sweep")
    assert len(together.points) == 2
    for p, option in enumerate(options):
        alone = {**values, section: {**values[section], field: option}}
        assert _cli(_write(tmp_path, alone, f"a{p}.toml"), "--out", tmp_path / f"a{p}") == 0
        single = load_metrics(tmp_path / f"a{p}")
        for name, value in single.items():
            np.testing.assert_allclose(together[name][p], value[0], rtol=1e-4, atol=1e-5,
                                       err_msg=name)


@pytest.mark.parametrize("path", sorted(
    (pathlib.Path(__file__).parents[1] / "jaxcurr" / "experiments").glob("*.toml")),
    ids=lambda p: p.stem)
def test_every_shipped_experiment_config_is_valid(path):
    from jaxcurr.run.experiment import load_experiment

    load_experiment(path)  # raises ConfigError naming the field otherwise


def test_resume_reads_old_run_directories_and_reports_a_finished_run_again(tmp_path, capsys):
    """A run saved before a setting existed resumes (the setting takes its default); a
    changed [report] on a finished run recomputes the final evaluation from the last
    checkpoint and leaves the training windows as they were; training settings must match."""
    values = ppo_values("ppo_episodic")
    del values["report"]
    path, out = _write(tmp_path, values), tmp_path / "run"
    assert _cli(path, "--out", out) == 0
    saved = (out / "config.toml").read_text()
    assert "greedy_episodes = 0" in saved
    (out / "config.toml").write_text(saved.replace("greedy_episodes = 0\n", ""))  # older run
    before = load_metrics(out)
    assert "greedy_return" not in before.final
    assert _cli(path, "--out", out, "--resume") == 0
    assert "finished already" in capsys.readouterr().out

    assert _cli(path, "--out", out, "--resume", "--set", "report.greedy_episodes=3") == 0
    after = load_metrics(out)
    assert after.final["greedy_return"].shape == (2, 2, 3)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and len(summary["variants"]["plain"]["greedy_return_per_seed"]) == 2
    assert "greedy_episodes = 3" in (out / "config.toml").read_text()

    assert _cli(path, "--out", out, "--resume", "--set", "ppo_episodic.actor_lr=0.01") == 2
    assert "ppo_episodic.actor_lr (0.0005 in the run, 0.01 now)" in capsys.readouterr().err
