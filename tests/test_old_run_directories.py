"""Run directories written by jaxcurr before its package redesign resume with today's code.

tests/fixtures/pre_redesign_runs/ holds, per kind, a run that the old code (revision f27f3a3,
the flat layout) stopped after its first checkpoint, and the window metrics of the same
experiment run through by the old code (tests/fixtures/record_pre_redesign_runs.py). Resumed
now, the run must finish with exactly those metrics: the checkpointed train state (whose
classes were renamed; Discrete SAC's has no snapshot scores, so it restores through the kind's
``old_layout`` / ``upgrade``), and the computation after the redesign is the same to the bit.
The fixtures were recorded at XLA's optimisation level 0, the suite's (conftest.py).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxcurr import cli
from jaxcurr.run.run_dir import load_metrics

FIXTURES = Path(__file__).parent / "fixtures" / "pre_redesign_runs"


@pytest.mark.parametrize("kind", ["discrete_sac", "initial_state_curriculum"])
def test_an_old_interrupted_run_resumes_to_the_old_uninterrupted_result(kind, tmp_path):
    run = tmp_path / kind
    shutil.copytree(FIXTURES / kind, run)
    saved = load_metrics(run).step.size
    assert cli.main(["run", str(FIXTURES / f"{kind}.toml"), "--out", str(run), "--resume",
                     "--no-progress"]) == 0
    resumed = load_metrics(run)
    with np.load(FIXTURES / f"{kind}_uninterrupted_metrics.npz") as old:
        assert 0 < saved < resumed.step.size == old["step"].size
        np.testing.assert_array_equal(resumed.step, old["step"])
        for name in resumed:
            np.testing.assert_array_equal(resumed[name], old[name], err_msg=name)
        for name in resumed.final:
            np.testing.assert_array_equal(resumed.final[name], old[f"final/{name}"],
                                          err_msg=name)
