"""The report's LunarLander fidelity comparison: 1000 episodes of jaxcurr's port against 1000
seeds of Gymnasium's Box2D version, for the heuristic controller and a uniform random policy.

Box2D's side is recorded by ``tests/fixtures/record_lunar_lander.py --report`` (gymnasium
1.4.0, Box2D 2.3.10; seeds 10000..10999) into
``experiments/results/lunar_lander_fidelity/box2d_1000_seeds.npz``. This script plays 1000 JAX
episodes per policy (``jaxcurr.envs.lunar_lander.env.episode_statistics``, key 0), compares them
with Box2D's (continuous collision on in both: Box2D's default, the port's
``jaxcurr.envs.lunar_lander.toi``) and, for the random policy, the port with its continuous
collision off against Box2D's with it off (``box2d_1000_seeds_no_toi.npz``), and writes
``summary.json`` and ``returns_cdf.png`` beside it::

    python experiments/lunar_lander_fidelity.py
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
from scipy import stats

from jaxcurr.core.figures import plt, save_figure
from jaxcurr.envs.lunar_lander import env as ll

OUT = Path(__file__).parent / "results" / "lunar_lander_fidelity"
EPISODES = 1000


def compare(jax_stats, box2d, policy: str) -> dict:
    ret, length, landed = (np.asarray(x, np.float64) for x in jax_stats)
    ref_ret = box2d[f"{policy}_returns"]
    ks = stats.ks_2samp(ret, ref_ret)
    row = {}
    for name, ours, ref in (("return", ret, ref_ret),
                            ("length", length, box2d[f"{policy}_lengths"]),
                            ("landed", landed, box2d[f"{policy}_landed"].astype(float))):
        row[name] = {"jax_mean": round(float(ours.mean()), 3),
                     "box2d_mean": round(float(ref.mean()), 3),
                     "jax_std": round(float(ours.std()), 3),
                     "box2d_std": round(float(ref.std()), 3),
                     "welch_t_p": round(float(stats.ttest_ind(ours, ref, equal_var=False).pvalue),
                                        4)}
    row["return"]["relative_difference"] = round(
        float((ret.mean() - ref_ret.mean()) / abs(ref_ret.mean())), 4)
    row["ks_statistic"], row["ks_p_value"] = round(float(ks.statistic), 4), float(ks.pvalue)
    return row


def play(policy: str, params) -> list[np.ndarray]:
    """Returns, lengths and landed flags of ``EPISODES`` JAX episodes (4 x 250, key 0)."""
    out = [ll.episode_statistics(k, EPISODES // 4, policy, params)  # compiled once
           for k in jax.random.split(jax.random.PRNGKey(0), 4)]
    return [np.concatenate([np.asarray(o[i]) for o in out]) for i in range(3)]


def main() -> None:
    box2d = np.load(OUT / "box2d_1000_seeds.npz")
    no_toi = np.load(OUT / "box2d_1000_seeds_no_toi.npz")
    summary, curves = {"episodes_each": EPISODES}, {}
    for policy in ("heuristic", "random"):
        jax_stats = play(policy, ll.EnvParams())
        summary[policy] = compare(jax_stats, box2d, policy)
        curves[policy] = {"jaxcurr (JAX)": jax_stats[0],
                          "Gymnasium Box2D": box2d[f"{policy}_returns"]}
        print(policy, json.dumps(summary[policy]))
        if policy == "random":
            discrete_only = play(policy, ll.EnvParams(continuous_collision=False))
            summary["random_both_without_continuous_collision"] = compare(
                discrete_only, no_toi, policy)
            curves[policy]["jaxcurr, continuous collision off"] = discrete_only[0]
            curves[policy]["Box2D, continuous collision off"] = no_toi["random_returns"]
            summary["box2d_with_vs_without_continuous_collision"] = compare(
                [no_toi[f"random_{k}"] for k in ("returns", "lengths", "landed")], box2d,
                policy)
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, (policy, series) in zip(axes, curves.items(), strict=True):
        for label, values in series.items():
            x = np.sort(values)
            ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", label=label)
        ax.set(title=f"{policy} policy, {EPISODES} episodes each", xlabel="episode return",
               ylabel="empirical CDF")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, OUT / "returns_cdf.png")


if __name__ == "__main__":
    main()
