"""Seeds sharded across devices: 4 simulated CPU devices give the single-device metrics."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import xla_flags

SCRIPT = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    import tomllib
    from jaxcurr.run import compilation, runner
    from jaxcurr.core.validation import ConfigError
    from jaxcurr.curricula.classifier_config import config_from_dict
    from jaxcurr.curricula import prepare_data
    from jaxcurr.datasets.classification import load_dataset

    values = tomllib.loads(open(sys.argv[1]).read())
    config = config_from_dict(values)
    data = prepare_data(load_dataset(config.data), config)
    from jaxcurr.kinds import get_kind
    result = runner.run(get_kind("classifier_curriculum"), config, data, progress=False)
    np.savez(sys.argv[2], devices=len(jax.devices()), **result.metrics)
    try:
        compilation.run_shardings(config.run.seeds + 1)
    except ConfigError as err:
        print("ERROR", err)
""")


def _run(tmp_path, values, devices, name):
    import tomli_w

    config = tmp_path / "config.toml"
    config.write_bytes(tomli_w.dumps(values).encode())
    env = dict(os.environ, XLA_FLAGS=xla_flags(f"--xla_force_host_platform_device_count={devices}"),
               JAX_PLATFORMS="cpu")
    out = tmp_path / f"{name}.npz"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config), str(out)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    with np.load(out) as metrics:
        return dict(metrics), done.stdout


@pytest.fixture(scope="module")
def four_devices(tiny_config, tmp_path_factory):
    """The tiny experiment (4 seeds) in one process with 4 CPU devices: its values, metrics
    and printed output."""
    values = tiny_config(run={"seeds": 4, "steps": 40})
    metrics, printed = _run(tmp_path_factory.mktemp("four"), values, 4, "four")
    return values, metrics, printed


def test_four_devices_give_the_single_device_metrics(four_devices, tmp_path):
    values, four, printed = four_devices
    four = dict(four)
    one, _ = _run(tmp_path, values, 1, "one")
    assert int(one.pop("devices")) == 1 and int(four.pop("devices")) == 4
    for name, value in one.items():
        # Same seeds, same programs; only each device's batch of seeds differs (4 vs 1), which
        # changes float32 summation order by at most a few ulp (measured: 2.4e-7 on losses).
        np.testing.assert_allclose(four[name], value, rtol=2e-6, atol=1e-6, err_msg=name)
    for name in ("uniform/group_share", "curiosity/group_share"):
        np.testing.assert_array_equal(four[name], one[name])
    assert "run.seeds: 5 runs (points x seeds); allowed: a multiple of the 4 visible" in printed


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_give_the_single_process_metrics(four_devices, tmp_path):
    """`jaxcurr run` over 2 processes x 2 CPU devices (jax.distributed, as on 2 hosts) writes
    the metrics of one process with 4 devices; only process 0 writes the run directory."""
    import tomli_w

    values, four, _ = four_devices
    config = tmp_path / "multi.toml"
    config.write_bytes(tomli_w.dumps(values).encode())
    env = dict(os.environ, XLA_FLAGS=xla_flags("--xla_force_host_platform_device_count=2"),
               JAX_PLATFORMS="cpu")
    port = _free_port()
    out = tmp_path / "multi"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "jaxcurr.cli", "run", str(config), "--out", str(out),
             "--no-progress", "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
             "--process-id", str(index)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for index in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert "run directory" in outputs[0] and "run directory" not in outputs[1]
    with np.load(out / "metrics.npz") as metrics:
        for name, value in four.items():
            if name == "devices":
                continue
            np.testing.assert_allclose(metrics[name], value, rtol=2e-6, atol=1e-6,
                                       err_msg=name)
