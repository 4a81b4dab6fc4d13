#!/usr/bin/env bash
# Reproduces experiments/REPORT.md: the four classifier-curriculum experiments on the offline
# copies in ../shared/data, 8 seeds each. Run from the repository root after `make install`.
set -euo pipefail
JAXCURR=${JAXCURR:-.venv/bin/jaxcurr}
for name in "${@:-mnist_curriculum cifar10_noise mnist_noise cifar10_curriculum}"; do
  for one in $name; do
    "$JAXCURR" run "$one" --seeds 8 --out "runs/$one" --overwrite --no-progress
    mkdir -p "experiments/results/$one/figures"
    cp "runs/$one/config.toml" "runs/$one/summary.json" "runs/$one/metrics.npz" \
      "experiments/results/$one/"
    cp "runs/$one/figures/curves.png" "experiments/results/$one/figures/"
  done
done
# The RL experiments of REPORT §4 and SPG-NM (§3) have scripts of their own; they write into
# experiments/results/ directly. Run them with RL=1 (several hours on 2 CPU cores).
if [[ "${RL:-0}" == 1 ]]; then
  PYTHON=${PYTHON:-.venv/bin/python}
  "$PYTHON" experiments/spg_nm.py experiments/spg_nm.toml
  "$PYTHON" experiments/ppo_sanity.py experiments/ppo_sanity.toml
  "$PYTHON" experiments/fourrooms_sac.py experiments/fourrooms_sac.toml
fi
