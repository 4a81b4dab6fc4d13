"""benchmarks/gpu_study.sh at its toy size on the CPU (TINY=1), three calls as on a device: a
budget that runs out stops both maps with SIGINT (exit 130, nothing finished); the next call
runs them to the end and copies the run directories, without their checkpoints, to its OUT; a
third finds both finished and continues nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

from jaxcurr.run import run_dir

ROOT = Path(__file__).resolve().parents[1]
MAPS = ("pointmaze_medium_study", "pointmaze_large_study")


def call(tmp_path: Path, name: str, budget: int) -> dict:
    """One call of the script into ``tmp_path/name``: its study.jsonl lines by run directory."""
    out = tmp_path / name
    env = {k: v for k, v in os.environ.items() if k != "JAXCURR_CHECKPOINT_DIR"}
    env.update(TINY="1", PYTHON=sys.executable, STUDY_DIR=str(tmp_path / "study"),
               BUDGET=str(budget), GRACE="60")
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_study.sh"), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (out / "study.jsonl").read_text().splitlines()]
    return {line["run_dir"]: line for line in lines}


def test_three_calls_stop_finish_and_find_finished(tmp_path):
    first = call(tmp_path, "call1", budget=1)  # SIGINT while Python starts: nothing written
    assert sorted(first) == sorted(MAPS)
    for line in first.values():
        assert line["exit"] == 130 and line["windows_done"] == 0
        assert not line["continued"]

    second = call(tmp_path, "call2", budget=1000)
    study, out = tmp_path / "study", tmp_path / "call2"
    for name in MAPS:
        line = second[name]
        assert line["exit"] == 0 and line["windows_done"] == 2, line
        metrics = run_dir.load_metrics(out / name)
        assert metrics.points == ["no_teacher", "mean_norm", "sum_norm"]
        assert metrics["eval_return"].shape == (3, 2, 2)  # methods, seeds, windows
        assert metrics.step.tolist() == [1200, 2400]
        assert json.loads((out / name / "summary.json").read_text())["finished"]
        assert not (out / name / "checkpoints").exists()
        held = run_dir.checkpoint_dir(study / name)  # outside the run directory
        assert held.parent == (study / "checkpoints").resolve() and any(held.iterdir())

    third = call(tmp_path, "call3", budget=1000)
    for name in MAPS:
        assert third[name]["exit"] == 0 and third[name]["continued"]
        assert "finished already" in (tmp_path / "call3" / f"{name}.log").read_text()
