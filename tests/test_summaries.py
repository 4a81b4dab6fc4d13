"""Summaries print IQM with bootstrap intervals and the probability of improvement from 3 seeds,
no interval under 3 (and say why), aligned whatever the method names; figure bands stay inside
the metric's range; the classifier table says how to read it."""

import types

import numpy as np
import pytest
import scipy.stats

from jaxcurr.core.aggregate import iqm
from jaxcurr.core.figures import band, plt
from jaxcurr.core.stats import improvement, stat
from jaxcurr.core.table import format_table
from jaxcurr.kinds import classifier_curriculum_report, initial_state_curriculum_report

METHODS = ["no_teacher", "alp_gmm:return", "plr:positive_value_loss", "gradient_norm:return"]


def start_summary(seeds: int) -> dict:
    """An initial_state_curriculum summary built from per-seed scores as ``summarize`` does."""
    rng = np.random.default_rng(seeds)
    auc = {m: rng.normal(10.0 * k, 1.0, seeds) for k, m in enumerate(METHODS)}
    methods = {}
    for m in METHODS:
        row = {"eval_return_auc": stat(auc[m], 4),
               "eval_success_last_5_windows": stat(rng.uniform(0, 1, seeds), 4)}
        if m != "no_teacher":
            row["p_higher_eval_return_auc_than_no_teacher"] = improvement(
                auc[m], auc["no_teacher"])
        methods[m] = row
    return {"name": "maze", "seeds": seeds, "total_steps": 1000, "env_steps_done": 1000,
            "methods": methods}


def columns_end_together(lines: list[str]) -> bool:
    """Right-aligned last columns: every line of the table ends at the same column."""
    return len({len(line) for line in lines}) == 1


def test_three_seeds_print_iqm_intervals_and_improvement_aligned():
    summary = start_summary(3)
    text = initial_state_curriculum_report.format_summary(summary)
    lines = text.splitlines()
    assert "3 seeds: IQM [95% stratified bootstrap interval]" in lines[0]
    table = lines[1:]
    assert columns_end_together(table)
    for method, line in zip(METHODS, table[1:], strict=True):
        cells = summary["methods"][method]
        low, high = cells["eval_return_auc"]["iqm_ci95"]
        assert line.split()[0] == method
        assert f"{cells['eval_return_auc']['iqm']:.2f} [{low:.2f}, {high:.2f}]" in line
        if method != "no_teacher":  # 10 points above the baseline with sd 1: P = 1
            assert "1.00 [1.00, 1.00]" in line
    # the printed column starts where its header does on every row
    start = table[0].index("final success") + len("final success")
    assert all(line[start - 1] != " " for line in table)


def test_two_seeds_print_no_interval_and_say_why():
    summary = start_summary(2)
    text = initial_state_curriculum_report.format_summary(summary)
    assert "2 seeds: no intervals (3 or more needed)" in text
    assert "[" not in "".join(text.splitlines()[1:])
    assert summary["methods"]["alp_gmm:return"]["eval_return_auc"]["iqm_ci95"] is None
    assert summary["methods"]["alp_gmm:return"]["p_higher_eval_return_auc_than_no_teacher"] is None
    assert columns_end_together(text.splitlines()[1:])


def test_stat_is_the_iqm_per_column_and_nan_has_no_interval():
    values = np.random.default_rng(0).normal(0, 1, (8, 3))
    s = stat(values, 12)
    np.testing.assert_allclose(s["iqm"], iqm(values), rtol=1e-10)
    assert all(lo <= c <= hi for c, (lo, hi) in zip(s["iqm"], s["iqm_ci95"], strict=True))
    values[2, 1] = np.nan
    s = stat(values)
    assert np.isnan(s["iqm"][1]) and s["iqm_ci95"][1] is None and s["iqm_ci95"][0] is not None


def test_format_table_fits_the_widest_cell():
    lines = format_table(["method", "score"], [["a", "1.0"], ["plr:positive_value_loss", "10.25"]])
    assert lines == ["  method                   score",
                     "  a                          1.0",
                     "  plr:positive_value_loss  10.25"]
    # no baseline, no comparison column
    assert format_table(["method", "P(better)"], [["a", "-"], ["b", "-"]]) == [
        "  method", "  a", "  b"]


def classifier_summary(label_mode: str, seeds: int = 3) -> dict:
    rng = np.random.default_rng(1)
    methods, groups, windows = ("uniform", "gradient_norm"), ((0,), (1, 2)), 10
    config = types.SimpleNamespace(
        name="digits", run=types.SimpleNamespace(seeds=seeds, steps=100, methods=methods),
        data=types.SimpleNamespace(groups=groups, label_mode=label_mode))
    metrics = {}
    for m in methods:
        metrics[f"{m}/group_loss"] = rng.uniform(0.5, 2.0, (seeds, windows, 2))
        metrics[f"{m}/group_share"] = rng.dirichlet([1, 1], (seeds, windows))
        metrics[f"{m}/test_accuracy"] = rng.uniform(0, 1, (seeds, windows))
        metrics[f"{m}/test_group_accuracy"] = rng.uniform(0, 1, (seeds, windows))
        metrics[f"{m}/teacher_entropy"] = rng.uniform(0, 1, (seeds, windows))
    return classifier_curriculum_report.summarize(config, metrics)


@pytest.mark.parametrize("label_mode", ["curriculum", "noise"])
def test_classifier_table_explains_why_there_is_no_test_accuracy(label_mode):
    text = classifier_curriculum_report.format_summary(classifier_summary(label_mode))
    assert "test acc" not in text.splitlines()[2]  # the header
    assert f"No test accuracy: {label_mode} labels are random within a group" in text
    assert "loss: held-out cross-entropy" in text


def test_classifier_table_with_clean_labels_has_test_accuracy_and_improvement():
    summary = classifier_summary("clean")
    text = classifier_curriculum_report.format_summary(summary)
    header = text.splitlines()[2]
    assert "test acc" in header and "P(below uniform)" in header
    p = summary["methods"]["gradient_norm"]["p_lower_loss_over_training_than_uniform"]
    assert p["ci95"][0] <= p["p"] <= p["ci95"][1]


def band_edges(values: np.ndarray, clip=None):
    fig, ax = plt.subplots()
    band(ax, np.arange(values.shape[1]), values, "x", clip=clip)
    paths = [c.get_paths()[0].vertices for c in ax.collections]
    plt.close(fig)
    return paths


def test_loss_band_stays_non_negative_where_a_t_band_would_not():
    losses = np.array([[0.01, 0.02], [0.02, 0.01], [0.9, 1.1]])  # 3 seeds, one far off
    t_low = losses.mean(0) - scipy.stats.t.ppf(0.975, 2) * scipy.stats.sem(losses, axis=0)
    assert (t_low < 0).all()  # the old band crossed zero
    (vertices,) = band_edges(losses)
    assert vertices[:, 1].min() >= losses.min() and vertices[:, 1].max() <= losses.max()


def test_share_band_stays_in_its_range_and_two_seeds_draw_no_band():
    shares = np.random.default_rng(2).dirichlet([0.3, 0.3], (4, 50))[..., 0]
    (vertices,) = band_edges(shares, clip=(0, 1))
    assert 0.0 <= vertices[:, 1].min() and vertices[:, 1].max() <= 1.0
    assert band_edges(shares[:2]) == []
