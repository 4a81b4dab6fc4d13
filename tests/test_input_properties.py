"""Property-based: random configs, --set values and .npz contents either validate (and then
run) or fail with the one-line ConfigError; never another exception."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxcurr import cli
from jaxcurr.core.validation import ConfigError
from jaxcurr.run.experiment import build

SECTIONS = {"data": ["source", "path", "groups", "label_mode", "eval_per_class", "test_size"],
            "student": ["hidden", "learning_rate", "b1", "b2", "eps"],
            "teacher": ["tasks", "hidden", "learning_rate", "entropy_coef", "baseline"],
            "signal": ["denominator", "eps", "moments"],
            "run": ["methods", "steps", "batch_size", "log_every", "seeds", "seed", "sinks"],
            "sweep": ["student.learning_rate", "teacher.entropy_coef", "run.steps"]}
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.lists(st.lists(st.integers(-2, 12), max_size=3), max_size=5),
                   st.dictionaries(st.text(max_size=5), scalars, max_size=2))
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(changes=st.lists(st.tuples(st.sampled_from(sorted(SECTIONS)), st.data()), max_size=4),
       kind=st.sampled_from(["classifier_curriculum", "tabular_pg", "ppo", "discrete_sac",
                             None]))
def test_random_configs_validate_or_fail_with_a_config_error(tiny_config, changes, kind):
    config = tiny_config()
    if kind is not None:
        config["kind"] = kind
    for section, data in changes:
        key = data.draw(st.sampled_from(SECTIONS[section]))
        value = data.draw(values)
        if section == "sweep":
            config.setdefault("sweep", {})[key] = value
        else:
            config.setdefault(section, {})[key] = value
    try:
        experiment = build(config)
        for part in experiment.parts:
            experiment.kind.prepare(part.config)
    except ConfigError as err:
        assert "\n" not in str(err)


@SETTINGS
@given(overrides=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=3))
def test_random_set_strings(tiny_config, overrides):
    sets = [f"{k}={v}" for k, v in overrides]
    try:
        build(tiny_config(), sets)
    except ConfigError as err:
        assert "\n" not in str(err)


arrays = st.one_of(
    st.builds(lambda n, d, scale: np.random.default_rng(0).random((n, d)) * scale,
              st.integers(0, 30), st.integers(0, 5), st.sampled_from([1, 255, 1e5, np.nan])),
    st.builds(lambda n: np.arange(n) % 10, st.integers(0, 30)),
    st.builds(lambda n: (np.arange(n) % 10)[:, None], st.integers(0, 30)),
    st.builds(lambda n: np.array(["x"] * n), st.integers(0, 5)))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.dictionaries(st.sampled_from(["x_train", "y_train", "x_test", "y_test"]),
                               arrays, max_size=4))
def test_random_npz_contents(tiny_config, tmp_path_factory, content):
    path = tmp_path_factory.mktemp("npz") / "data.npz"
    np.savez(path, **content)
    config = tiny_config(data={"path": str(path)})
    try:
        experiment = build(config)
        experiment.kind.prepare(experiment.parts[0].config)
    except ConfigError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("sets", [["run.steps=20", "run.log_every=10"],
                                  ["student.hidden=[3]", "run.steps=10", "run.log_every=5"]])
def test_valid_random_examples_also_run(tiny_config, tmp_path, sets):
    import tomli_w

    path = tmp_path / "exp.toml"
    path.write_bytes(tomli_w.dumps(tiny_config()).encode())
    args = ["run", str(path), "--out", str(tmp_path / "r"), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    assert cli.main(args) == 0
