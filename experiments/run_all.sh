#!/usr/bin/env bash
# Reproduces experiments/REPORT.md: the four classifier-curriculum experiments, 8 seeds each.
# Run from the repository root after `make install`. REPORT.md ran on local copies (the first
# 10,000 MNIST training images, 2,000 CIFAR-10 images per class): JAXCURR_DATA_DIR=<folder with
# mnist.npz and cifar10.npz> reads them; without it TFDS downloads the full datasets.
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
# SPG-NM (§3) and the RL experiments of §4 go through the same command; RL=1 runs them too
# (several hours on 2 CPU cores). Their run directories become experiments/results/<name>
# (checkpoints left out).
if [[ "${RL:-0}" == 1 ]]; then
  for one in spg_nm ppo_sanity fourrooms_sac; do
    "$JAXCURR" run "$one" --out "runs/$one" --overwrite --no-progress
    rm -rf "experiments/results/$one"
    cp -r "runs/$one" "experiments/results/$one"
    find "experiments/results/$one" -name checkpoints -type d -prune -exec rm -rf {} +
  done
fi
