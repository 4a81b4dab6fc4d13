"""Run directories written by jaxcurr before its package redesign resume with today's code.

tests/fixtures/pre_redesign_runs/ holds, per kind, a run that the old code (revision f27f3a3,
the flat layout) stopped after its first checkpoint, and the window metrics of the same
experiment run through by the old code (tests/fixtures/record_pre_redesign_runs.py). Resumed
now, the run must finish with those metrics: the windows saved before the checkpoint exactly,
the rest within float32 rounding (the checkpointed train state's classes were renamed;
Discrete SAC's has no snapshot scores, so it restores through the kind's ``old_layout`` /
``upgrade``). Not to the bit: XLA compiles CPU code for the host's instruction set, and the
same program's reductions round differently under AVX2 and AVX-512 (measured, AMD Zen 4
against the recording machine: at most 3.5e-5 relative, 1.5e-7 absolute, in the windows after
the checkpoint). A wrong restore (another key, a reset optimiser or buffer) moves them by far
more. The fixtures were recorded at XLA's optimisation level 0, the suite's (conftest.py).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from jaxcurr import cli
from jaxcurr.run.run_dir import load_metrics

RTOL, ATOL = 1e-3, 1e-6

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
            np.testing.assert_array_equal(resumed[name][..., :saved], old[name][..., :saved],
                                          err_msg=name)
            np.testing.assert_allclose(resumed[name], old[name], RTOL, ATOL, err_msg=name)
        for name in resumed.final:
            np.testing.assert_allclose(resumed.final[name], old[f"final/{name}"], RTOL, ATOL,
                                       err_msg=name)
