"""Seeds sharded across devices: 4 simulated CPU devices give the single-device metrics."""

import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    import tomllib
    from jaxcurr import runner
    from jaxcurr.config import ConfigError, config_from_dict
    from jaxcurr.curricula import prepare_data
    from jaxcurr.data import load_dataset

    values = tomllib.loads(open(sys.argv[1]).read())
    config = config_from_dict(values)
    data = prepare_data(load_dataset(config.data), config)
    result = runner.run(config, data, progress=False)
    np.savez(sys.argv[2], devices=len(jax.devices()), **result.metrics)
    try:
        runner.seed_shardings(config.run.seeds + 1)
    except ConfigError as err:
        print("ERROR", err)
""")


def _run(tmp_path, values, devices, name):
    import tomli_w

    config = tmp_path / "config.toml"
    config.write_bytes(tomli_w.dumps(values).encode())
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = tmp_path / f"{name}.npz"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config), str(out)], env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    with np.load(out) as metrics:
        return dict(metrics), done.stdout


def test_four_devices_give_the_single_device_metrics(tiny_config, tmp_path):
    values = tiny_config(run={"seeds": 4, "steps": 40})
    one, _ = _run(tmp_path, values, 1, "one")
    four, printed = _run(tmp_path, values, 4, "four")
    assert int(one.pop("devices")) == 1 and int(four.pop("devices")) == 4
    for name, value in one.items():
        # Same seeds, same programs; only each device's batch of seeds differs (4 vs 1), which
        # changes float32 summation order by at most a few ulp (measured: 2.4e-7 on losses).
        np.testing.assert_allclose(four[name], value, rtol=2e-6, atol=1e-6, err_msg=name)
    for name in ("uniform/group_share", "curiosity/group_share"):
        np.testing.assert_array_equal(four[name], one[name])
    assert "run.seeds: got 5; allowed: a multiple of the 4 visible devices" in printed
