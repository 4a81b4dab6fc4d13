"""What a newcomer meets first: the resume hint after an interruption runs as printed, a fresh
run never says "nothing left to run", the progress bar fits runs that end early, ``jaxcurr
list`` in columns, descriptions that name their papers."""

import io
import json
import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest
import tomli_w
from tqdm import tqdm

from jaxcurr import cli
from jaxcurr.kinds import KIND_MODULES, get_kind
from jaxcurr.run.experiment import experiment_listing
from jaxcurr.run.runner import fit_total

INTERRUPTED = """
import sys
from jaxcurr import cli
from jaxcurr.run import execution

original = execution._Writer.checkpoint

def checkpoint(self, result):  # Ctrl-C right after the first checkpoint, deterministically
    original(self, result)
    raise KeyboardInterrupt

execution._Writer.checkpoint = checkpoint
sys.argv = ["jaxcurr", *sys.argv[1:]]
cli.entry_point()
"""


def test_resume_hint_keeps_the_users_options_and_runs_as_printed(tiny_config, tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_bytes(tomli_w.dumps(tiny_config()).encode())
    out = tmp_path / "run dir"  # a space: the hint must quote it
    options = ["--seeds", "3", "--set", "run.steps=30", "--set", "student.learning_rate=0.002",
               "--no-progress"]
    cut = subprocess.run([sys.executable, "-c", INTERRUPTED, "run", str(path), *options,
                          "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert cut.returncode == 130, cut.stderr
    hint = re.search(r"continue with: (.*)", cut.stderr).group(1)
    words = shlex.split(hint)
    assert words[:3] == ["jaxcurr", "run", str(path)]
    assert words[3:] == [*options, "--out", str(out), "--resume"]
    script = Path(sys.executable).parent / "jaxcurr"  # the console script, as a user runs it
    resumed = subprocess.run([str(script), *words[1:]], capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["seeds"] == 3 and summary["steps"] == 30
    config = (out / "config.toml").read_text()
    assert "learning_rate = 0.002" in config


def test_resume_hint_escapes_what_format_would_read(tiny_config):
    args = cli.build_parser().parse_args(["run", "x.toml", "--set", "a.b={c = 1}", "--seeds",
                                          "4"])
    hint = cli.resume_hint(args).format(out=shlex.quote("/tmp/my run"))
    assert shlex.split(hint) == ["jaxcurr", "run", "x.toml", "--seeds", "4", "--set",
                                 "a.b={c = 1}", "--out", "/tmp/my run", "--resume"]


def sac_finished_in_its_random_phase() -> dict:
    """Episodes of at most 20 steps and 100 random steps: the 2 episodes are done in ``init``."""
    return {"name": "sac", "kind": "discrete_sac", "variants": {"names": ["plain"]},
            "env": {"name": "FourRooms-Grade-v0", "start": [8, 10], "max_steps_in_episode": 20},
            "sac": {"hidden": 8, "batch_size": 8, "buffer_size": 200, "random_steps": 100,
                    "num_episodes": 2, "max_env_steps": 400},
            "run": {"seeds": 1, "window_steps": 50, "chunk_logs": 2, "checkpoint_every": 1}}


def test_a_fresh_run_never_says_nothing_left_to_run(tmp_path, capsys):
    path = tmp_path / "sac.toml"
    path.write_bytes(tomli_w.dumps(sac_finished_in_its_random_phase()).encode())
    assert cli.main(["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "nothing left to run" not in out
    assert "every run had finished when it started" in out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["finished"]


def test_the_bar_total_follows_the_work_done_and_ends_full():
    stream = io.StringIO()
    bar = tqdm(total=1000, file=stream, ascii=True, mininterval=0, miniters=1)
    fit_total(bar, 1000, 100, finished=False, fraction=0.5)  # half the episodes in 100 steps
    bar.update(100)
    assert bar.total == 200 and "50%" in stream.getvalue().split("\r")[-1]
    fit_total(bar, 1000, 100, finished=False, fraction=0.01)  # never beyond the cap
    assert bar.total == 1000
    fit_total(bar, 1000, 150, finished=True, fraction=None)  # ended early: the bar is full
    bar.update(50)
    assert bar.total == 150 and "100%" in stream.getvalue().split("\r")[-1]
    assert "1000" not in stream.getvalue().split("\r")[-1]
    bar.close()


def test_discrete_sac_progress_is_the_larger_of_episodes_and_env_steps():
    kind = get_kind("discrete_sac")
    config = kind.from_dict(sac_finished_in_its_random_phase())
    progress = kind.make_engine(config).progress
    assert float(progress(types.SimpleNamespace(episodes=1, step=40))) == pytest.approx(0.5)
    assert float(progress(types.SimpleNamespace(episodes=0, step=300))) == pytest.approx(0.75)


def test_list_prints_aligned_columns(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:2] == ["name", "kind"] and header[-1] == "description"
    starts = [lines[0].index(f" {word}") + 1 for word in header[1:]]
    rows = experiment_listing()
    assert len(lines) == len(rows) + 1
    for line, row in zip(lines[1:], rows, strict=True):
        assert line.startswith(row[0] + " ")
        for start in starts:  # every column starts where its header does
            assert line[start - 1] == " " and line[start] != " "
        assert line.endswith(row[2])


AUTHORS_AND_YEAR = re.compile(r"[A-Z][a-z]+( & [A-Z][A-Za-z ]+| et al\.) (19|20)\d\d")


def test_descriptions_name_their_papers_by_authors_and_year():
    descriptions = [row[2] for row in experiment_listing()]
    descriptions += [get_kind(name).description for name in KIND_MODULES]
    for text in descriptions:
        assert not re.search(r"\b(Paper|Issue)\b", text), text
        assert AUTHORS_AND_YEAR.search(text), text
