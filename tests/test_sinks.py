"""Metric sinks, read back with real readers: JSON lines, TensorBoard's EventAccumulator on the
tensorboardX event files, and the offline wandb run's transaction log (``run-<id>.wandb``)."""

import json
import math
import re
import struct
import zlib

import pytest

from jaxcurr.core.validation import ConfigError
from jaxcurr.run import sinks
from jaxcurr.run.sinks import SINKS, check_sinks, open_sinks

NAMES = ("loss", "grokfast/eval_return", "uniform/task_probs/3")


def window_data(w, shift=0.0):
    """Window ``w``'s step and scalars; window 2's loss is NaN."""
    loss = math.nan if w == 2 else 1.0 / (w + 1) + shift
    return 10 * (w + 1), {"loss": loss, "grokfast/eval_return": 0.25 * w + shift,
                          "uniform/task_probs/3": 0.5 + shift}


def write_windows(run_dir, names, windows, shift=0.0, start_window=0, start_step=0):
    metric_sinks = open_sinks(run_dir, names, "tiny", {"lr": 0.1, "hidden": (16,)},
                              start_window=start_window, start_step=start_step)
    with metric_sinks:
        for w in windows:
            metric_sinks.write(w, *window_data(w, shift))


def same(got, want):
    if want is None or math.isnan(want):
        return got is None or (isinstance(got, float) and math.isnan(got))
    return got == pytest.approx(want, rel=1e-6)


def read_jsonl(path):
    def no_nan(token):
        raise AssertionError(f"bare {token} in {path}")
    return [json.loads(line, parse_constant=no_nan) for line in path.read_text().splitlines()]


def assert_jsonl(path, expected):
    """``expected``: [(window, shift)] in file order."""
    records = read_jsonl(path)
    assert [r["window"] for r in records] == [w for w, _ in expected]
    for record, (w, shift) in zip(records, expected, strict=True):
        step, scalars = window_data(w, shift)
        assert record["step"] == step and set(record["metrics"]) == set(NAMES)
        assert all(same(record["metrics"][k], v) for k, v in scalars.items()), record
    assert (records[2]["metrics"]["loss"] is None) if len(records) > 2 else True


def test_jsonl_round_trip_writes_nan_as_null(tmp_path):
    write_windows(tmp_path, ("jsonl",), range(4))
    assert_jsonl(tmp_path / "metrics.jsonl", [(w, 0.0) for w in range(4)])
    assert '"loss": null' in (tmp_path / "metrics.jsonl").read_text().splitlines()[2]


def test_jsonl_resume_drops_later_windows_and_a_torn_line(tmp_path):
    write_windows(tmp_path, ("jsonl",), range(5))
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"window": 5, "step": 60, "metrics": {"lo')  # killed mid-write
    write_windows(tmp_path, ("jsonl",), range(3, 6), shift=100.0, start_window=3)
    assert_jsonl(tmp_path / "metrics.jsonl",
                 [(0, 0.0), (1, 0.0), (2, 0.0), (3, 100.0), (4, 100.0), (5, 100.0)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]  # no temp file left
    write_windows(tmp_path, (), [0])  # a fresh run (start_window 0) starts the file anew
    assert_jsonl(tmp_path / "metrics.jsonl", [(0, 0.0)])


def tensorboard_scalars(logdir):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def assert_tensorboard(logdir, expected):
    scalars = tensorboard_scalars(logdir)
    assert set(scalars) == set(NAMES)
    for name in NAMES:
        want = [(window_data(w, shift)[0], window_data(w, shift)[1][name]) for w, shift in expected]
        assert [s for s, _ in scalars[name]] == [s for s, _ in want], name  # each step once
        assert all(same(g, v) for (_, g), (_, v) in zip(scalars[name], want, strict=True)), name


def test_tensorboard_scalars_and_resume_purge(tmp_path):
    pytest.importorskip("tensorboardX")
    write_windows(tmp_path, ("jsonl", "tensorboard"), range(5))
    assert_tensorboard(tmp_path / "tensorboard", [(w, 0.0) for w in range(5)])
    # resumed at window 3 (step 40): the first run's steps 40 and 50 are purged
    write_windows(tmp_path, ("jsonl", "tensorboard"), range(3, 5), shift=100.0,
                  start_window=3, start_step=40)
    assert len(list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert_tensorboard(tmp_path / "tensorboard",
                       [(0, 0.0), (1, 0.0), (2, 0.0), (3, 100.0), (4, 100.0)])
    assert_jsonl(tmp_path / "metrics.jsonl",
                 [(0, 0.0), (1, 0.0), (2, 0.0), (3, 100.0), (4, 100.0)])


def wandb_records(path):
    """The protobuf records of a ``.wandb`` file: a ``:W&B`` header, then LevelDB-log blocks."""
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")
    data, block, header = path.read_bytes(), 32768, 7
    assert data[:4] == b":W&B"
    pos, chunk, records = header, b"", []
    while pos + header <= len(data):
        if block - pos % block < header:  # block trailer padding
            pos += block - pos % block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + header])
        body = data[pos + header:pos + header + length]
        assert crc == zlib.crc32(body, zlib.crc32(bytes([kind]))), f"bad record at {pos}"
        chunk, pos = chunk + body, pos + header + length
        if kind in (1, 4):  # FULL or LAST
            record = pb.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
    return records


def wandb_history(run_folder):
    """[(step, {name: value})] of the run's history records, and its run record."""
    (path,) = run_folder.glob("run-*.wandb")
    records = wandb_records(path)
    history = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json)
                   for item in record.history.item}
            history.append((row.pop("_step"), {k: v for k, v in row.items() if k[0] != "_"}))
    # the sink's close() returns only once the log is whole: it ends with the exit record
    assert records[-1].WhichOneof("record_type") == "exit"
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    return history, run


def assert_wandb(run_folder, expected):
    history, run = wandb_history(run_folder)
    assert [s for s, _ in history] == [window_data(w, shift)[0] for w, shift in expected]
    for (_, row), (w, shift) in zip(history, expected, strict=True):
        assert set(row) == set(NAMES)
        assert all(same(row[k], v) for k, v in window_data(w, shift)[1].items()), row
    assert run.display_name == "tiny" and run.project == "jaxcurr"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["lr"] == 0.1 and config["hidden"] == [16]


def test_wandb_offline_history_and_resume_with_the_same_id(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb_home"))
    run_dir = tmp_path / "run"
    write_windows(run_dir, ("jsonl", "wandb"), range(4))
    run_id = (run_dir / "wandb_id.txt").read_text().strip()
    (first,) = (run_dir / "wandb").glob(f"offline-run-*-{run_id}")
    assert_wandb(first, [(w, 0.0) for w in range(4)])

    write_windows(run_dir, ("jsonl", "wandb"), range(2, 4), shift=100.0, start_window=2,
                  start_step=30)
    assert (run_dir / "wandb_id.txt").read_text().strip() == run_id
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    # wandb adds "-1" to the folder of a run resumed within the same second
    assert len(folders) == 2 and all(re.search(f"-{run_id}(-[0-9]+)?$", f.name) for f in folders)
    (second,) = [f for f in folders if f != first]
    assert_wandb(second, [(2, 100.0), (3, 100.0)])
    assert_jsonl(run_dir / "metrics.jsonl", [(0, 0.0), (1, 0.0), (2, 100.0), (3, 100.0)])


def test_unknown_sink_is_a_one_line_config_error(tmp_path):
    assert SINKS == ("jsonl", "tensorboard", "wandb")
    message = "run.sinks: got 'csv'; allowed: a list of 'jsonl', 'tensorboard', 'wandb'"
    with pytest.raises(ConfigError) as error:
        check_sinks(("jsonl", "csv"))
    assert str(error.value) == message
    with pytest.raises(ConfigError, match="got 'csv'"):
        open_sinks(tmp_path / "run", ("jsonl", "csv"), "tiny", {})
    assert not (tmp_path / "run").exists()
    check_sinks(SINKS)  # all installed here


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sinks._PACKAGES, "wandb", "jaxcurr_no_such_module")
    with pytest.raises(ConfigError) as error:
        check_sinks(("jsonl", "wandb"))
    assert str(error.value).startswith("run.sinks: 'wandb' needs the ")
    assert str(error.value).endswith("install it with pip install 'jaxcurr[wandb]'")
    assert "\n" not in str(error.value)
