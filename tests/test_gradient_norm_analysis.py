"""experiments/analyze_gradient_norm_study.py on small synthetic run directories: AUC, steps to
a success threshold, the paired statistics and the binned goal distance against NumPy."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from jaxcurr.run import run_dir

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "analyze_gradient_norm_study.py"
EVERY = 1000


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("analyze_gradient_norm_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_run(path: Path, methods: list[str], seeds: int, windows: int, rng,
             success=None) -> dict:
    """A run directory with random returns, the given (or random) success curves and 30
    episodes per run, 100 env steps each."""
    shape = (len(methods), seeds, windows)
    steps = np.arange(1, windows + 1) * EVERY
    ret = rng.uniform(0, 600, shape).round(1)
    succ = rng.choice([0.0, 0.3, 0.5, 0.6, 0.8, 1.0], shape) if success is None else success
    episodes = (len(methods), seeds, 30)
    final = {"goal_distance": rng.uniform(0.5, 6.0, episodes).astype(np.float32),
             "end_step": np.broadcast_to(np.arange(1, 31) * 100.0, episodes).astype(np.float32),
             "goal_cell": rng.integers(0, 5, episodes).astype(np.float32),
             "reset_cell": rng.integers(0, 5, episodes).astype(np.float32)}
    metrics = {"eval_return": ret, "eval_success": succ,
               "env_steps": np.broadcast_to(steps, shape).astype(np.float32)}
    path.mkdir(parents=True)
    run_dir.save_metrics(path, metrics, final, steps, methods, methods, {})
    run_dir.save_config_dict(path, {
        "kind": "initial_state_curriculum", "maze": {"map": "medium"},
        "report": {"last_windows": 2},
        "run": {"seed": 0, "seeds": seeds, "eval_every": EVERY, "total_steps": 10 * EVERY}})
    return {"eval_return": ret, "eval_success": succ, **final}


def first_at_least(curve, threshold, censor):
    for w, value in enumerate(curve):
        if value >= threshold:
            return (w + 1) * EVERY
    return censor


def numpy_iqm(values):
    values = np.sort(values)
    cut = int(0.25 * len(values))
    return values[cut:len(values) - cut].mean()


def numpy_improvement(x, y):
    """P(X > Y) + P(X = Y) / 2 over all pairs."""
    x, y = np.asarray(x)[:, None], np.asarray(y)[None, :]
    return np.mean((x > y) + 0.5 * (x == y))


def test_scores_and_paired_statistics_match_numpy(study, tmp_path):
    rng = np.random.default_rng(1)
    seeds, windows = 5, 6
    success = np.zeros((2, seeds, windows))
    success[0, 0, 2:] = 0.6  # no_teacher seed 0: 0.5 at step 3000, never 0.8
    success[0, 1, 1:] = [0.5, 0.5, 0.9, 0.9, 0.9]  # 0.5 at 2000, 0.8 at 4000
    success[1, 0, 4] = 1.0  # mean_norm seed 0: both at 5000
    success[1, 2, 0] = 0.8  # mean_norm seed 2: both at 1000
    data = make_run(tmp_path / "map", ["no_teacher", "mean_norm"], seeds, windows, rng,
                    success)
    result = study.analyze(study.load_study(str(tmp_path / "map")), bin_steps=1000)
    censor = windows * EVERY + EVERY
    assert result["intervals"] is True and result["not_reached_counts_as"] == censor
    per_method = {}
    for p, name in enumerate(["no_teacher", "mean_norm"]):
        row, ret, succ = result["methods"][name], data["eval_return"][p], success[p]
        auc = [sum(r) / windows for r in ret]
        final = [(r[-2] + r[-1]) / 2 for r in ret]
        np.testing.assert_allclose(row["eval_return_auc"]["per_seed"], auc, rtol=1e-12)
        np.testing.assert_allclose(row["final_eval_return"]["per_seed"], final, rtol=1e-12)
        np.testing.assert_allclose(row["eval_return_auc"]["iqm"], numpy_iqm(auc), rtol=1e-12)
        for t in (0.5, 0.8):
            expected = [first_at_least(c, t, censor) for c in succ]
            assert row[f"steps_to_{t:g}"]["per_seed"] == expected
            assert row[f"steps_to_{t:g}"]["not_reached"] == expected.count(censor)
        per_method[name] = {"auc": np.array(auc), "final": np.array(final),
                            **{t: np.array([first_at_least(c, t, censor) for c in succ])
                               for t in (0.5, 0.8)}}
    assert result["methods"]["no_teacher"]["steps_to_0.8"]["per_seed"][:2] == [censor, 4000]
    assert result["methods"]["mean_norm"]["steps_to_0.5"]["per_seed"][:3] == [5000, censor, 1000]
    paired = result["methods"]["mean_norm"]["minus_no_teacher"]
    base, method = per_method["no_teacher"], per_method["mean_norm"]
    for key, name, lower_better in (("eval_return_auc", "auc", False),
                                    ("final_eval_return", "final", False),
                                    ("steps_to_0.5", 0.5, True), ("steps_to_0.8", 0.8, True)):
        d = method[name] - base[name]
        np.testing.assert_allclose(paired[key]["per_seed"], d, rtol=1e-12)
        np.testing.assert_allclose(paired[key]["iqm"], numpy_iqm(d), rtol=1e-12, atol=1e-9)
        assert d.min() - 1e-9 <= paired[key]["low"] <= paired[key]["iqm"] \
            <= paired[key]["high"] <= d.max() + 1e-9
        x, y = (-method[name], -base[name]) if lower_better else (method[name], base[name])
        poi = paired[key]["p_improvement"]
        np.testing.assert_allclose(poi["p"], numpy_improvement(x, y), rtol=1e-12)
        assert 0.0 <= poi["low"] <= poi["p"] <= poi["high"] <= 1.0
    text = study.tables(result)
    assert "| mean_norm |" in text and "[" in text  # intervals printed with 5 seeds


def test_goal_distance_binned_by_env_step(study, tmp_path):
    data = make_run(tmp_path / "map", ["no_teacher", "mean_norm"], 3, 3,
                    np.random.default_rng(2))
    result = study.analyze(study.load_study(str(tmp_path / "map")), bin_steps=700)
    curve = result["methods"]["mean_norm"]["goal_distance_by_step"]
    distance, end = data["goal_distance"][1], data["end_step"][1]
    edges = [0, 700, 1400, 2100, 2800]  # the 3 windows end at 3000: episodes up to 3000
    assert curve["bin_centres"] == [350, 1050, 1750, 2450, 3150]
    for s in range(3):
        for b, low in enumerate(edges):
            inside = [d for d, e in zip(distance[s], end[s], strict=True) if low < e <= low + 700]
            np.testing.assert_allclose(curve["per_seed"][s][b], np.mean(inside), rtol=1e-6)
    # episodes that ended after the last window are left out of the curriculum's numbers
    cur = result["methods"]["mean_norm"]["curriculum"]
    first = np.mean([np.mean(d[:6]) for d in distance])  # 30 episodes, a fifth: 6
    np.testing.assert_allclose(cur["goal_distance_first_fifth"]["mean"], first, rtol=1e-3)


def test_joined_runs_are_cut_to_common_windows_and_few_seeds_give_no_intervals(study, tmp_path):
    rng = np.random.default_rng(3)
    base = make_run(tmp_path / "a", ["no_teacher"], 2, 5, rng)
    other = make_run(tmp_path / "b", ["mean_norm", "no_teacher"], 2, 3, rng)
    result = study.analyze(study.load_study(f"{tmp_path / 'a'}+{tmp_path / 'b'}"), 1000)
    assert result["windows"] == 3 and result["env_steps_done"] == 3000
    assert list(result["methods"]) == ["no_teacher", "mean_norm", "no_teacher (b)"]
    auc = base["eval_return"][0][:, :3].mean(1)
    np.testing.assert_allclose(result["methods"]["no_teacher"]["eval_return_auc"]["per_seed"],
                               auc, rtol=1e-12)
    paired = result["methods"]["mean_norm"]["minus_no_teacher"]["eval_return_auc"]
    np.testing.assert_allclose(paired["per_seed"], other["eval_return"][0].mean(1) - auc,
                               rtol=1e-12)
    assert paired["low"] is None and paired["p_improvement"]["low"] is None
    assert "intervals need at least 3" in result["intervals"]
    assert "no intervals: 2 seeds" in study.tables(result)
    # episodes after the common 3,000 steps are out: 30 per seed, 100 steps each
    distance = result["methods"]["mean_norm"]["goal_distance_by_step"]
    assert distance["bin_centres"] == [500, 1500, 2500]


def test_main_writes_figures_and_json(study, tmp_path, capsys):
    make_run(tmp_path / "map", ["no_teacher", "mean_norm", "sum_norm"], 3, 4,
             np.random.default_rng(4))
    study.main([str(tmp_path / "map"), "--out", str(tmp_path / "out")])
    out = tmp_path / "out" / "map"
    for name in ("study_eval_return", "study_eval_success", "study_goal_distance"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "study.json").read_text())
    assert set(saved["methods"]) == {"no_teacher", "mean_norm", "sum_norm"}
    assert "| sum_norm |" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("missing", "no metrics.npz"),
    ("no_baseline", "no no_teacher method"),
    ("unpaired", "run.seeds = 3, the first run has 2"),
])
def test_bad_input_is_one_line(study, tmp_path, case, message):
    rng = np.random.default_rng(5)
    if case == "no_baseline":
        make_run(tmp_path / "a", ["mean_norm"], 2, 2, rng)
        spec = str(tmp_path / "a")
    elif case == "unpaired":
        make_run(tmp_path / "a", ["no_teacher"], 2, 2, rng)
        make_run(tmp_path / "b", ["mean_norm"], 3, 2, rng)
        spec = f"{tmp_path / 'a'}+{tmp_path / 'b'}"
    else:
        spec = str(tmp_path / "nothing")
    with pytest.raises(SystemExit) as err:
        study.load_study(spec)
    assert message in str(err.value) and "\n" not in str(err.value)
