"""Where ``jaxcurr run <name>`` and ``jaxcurr list`` find experiments: the shipped ones (package
data), then the packages that installed distributions register under the ``jaxcurr.experiments``
entry points, here a throwaway distribution (a package and its ``.dist-info``) put on
``sys.path``, which is all ``importlib.metadata`` reads."""

import sys

import pytest

from jaxcurr import cli
from jaxcurr.core.validation import ConfigError
from jaxcurr.run.experiment import experiment_listing, load_experiment, resolve_experiment

MINE = '''name = "mine"
description = "a plugin's experiment"
[data]
source = "digits"
[run]
steps = 20
'''


def _distribution(site, entry_points: str) -> None:
    package = site / "plugin_exps" / "experiments"
    package.mkdir(parents=True)
    (site / "plugin_exps" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "mine.toml").write_text(MINE)
    (package / "digits_curriculum.toml").write_text(MINE.replace("mine", "digits_curriculum"))
    (package / "notes.txt").write_text("not an experiment")
    info = site / "plugin_exps-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-exps\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[jaxcurr.experiments]\n{entry_points}\n")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("plugin_exps")]:
        del sys.modules[name]


def test_shipped_first_then_registered_packages(site, capsys):
    _distribution(site, "mine = plugin_exps.experiments")
    assert resolve_experiment("mine") == site / "plugin_exps" / "experiments" / "mine.toml"
    assert load_experiment(resolve_experiment("mine")).name == "mine"
    shipped = resolve_experiment("digits_curriculum")
    assert shipped.parent.name == "experiments" and shipped.parent.parent.name == "jaxcurr"
    rows = {(row.name, row.origin): row for row in experiment_listing()}
    assert rows["mine", "plugin-exps"].description == "a plugin's experiment"
    assert rows["mine", "plugin-exps"].kind == "classifier_curriculum"
    assert rows["digits_curriculum", "plugin-exps"].description.startswith(
        "(hidden by the one from jaxcurr)")
    assert not rows["digits_curriculum", "jaxcurr"].description.startswith("(hidden")
    assert ("notes", "plugin-exps") not in rows
    assert cli.main(["list"]) == 0
    listed = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["mine", "classifier_curriculum", "plugin-exps"] in [w[:3] for w in listed]


def test_an_unknown_name_lists_the_registered_ones_too(site):
    _distribution(site, "mine = plugin_exps.experiments")
    with pytest.raises(ConfigError, match="unknown name 'nope'; allowed: a .toml path or one "
                                          "of .*digits_curriculum.*, mine,"):
        resolve_experiment("nope")


def test_a_broken_entry_point_is_one_line(site):
    _distribution(site, "gone = plugin_exps.missing")
    assert resolve_experiment("digits_curriculum").parent.parent.name == "jaxcurr"
    with pytest.raises(ConfigError, match="the jaxcurr.experiments entry point 'gone' of "
                                          "plugin-exps names 'plugin_exps.missing', which "
                                          "cannot be imported"):
        resolve_experiment("nope")
