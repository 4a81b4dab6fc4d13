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
