#!/usr/bin/env bash
# REPORT §7: the four classifier-curriculum experiments again, with bandit teachers that keep
# exploring (EXP3.S, learning progress) reading momentum correlation, loss and prediction gain,
# beside uniform and the first paper's REINFORCE teacher; 8 seeds, all methods in one program.
# Run from the repository root after `make install`; results go to experiments/results/teachers.
set -euo pipefail
JAXCURR=${JAXCURR:-.venv/bin/jaxcurr}
METHODS='["uniform", "momentum_correlation", "exp3s:momentum_correlation", "exp3s:loss", "exp3s:prediction_gain", "learning_progress:momentum_correlation", "learning_progress:loss", "learning_progress:prediction_gain"]'
for one in ${@:-mnist_curriculum mnist_noise cifar10_curriculum cifar10_noise}; do
  out="experiments/results/teachers/$one" resume=()
  [[ -e "$out/config.toml" ]] && resume=(--resume)  # an interrupted run goes on
  "$JAXCURR" run "$one" --seeds 8 --out "$out" "${resume[@]}" --no-progress \
    --set "run.methods=$METHODS"
done
