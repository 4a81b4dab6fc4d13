#!/usr/bin/env bash
# The platform as a new user meets it: a fresh venv outside the checkout, jaxcurr's wheel with
# the `run` extra and this example installed, then `jaxcurr list`, a run by name, an
# interrupted run resumed (metrics compared with the uninterrupted one), `jaxcurr plot` and a
# sweep. Usage: bash examples/pendulum_starts/fresh_venv_check.sh [WORKDIR]   (~10 min, network
# to PyPI for jaxcurr's dependencies)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work/wheels" "$work/elsewhere"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --upgrade pip
"$work/venv/bin/pip" wheel --quiet --no-deps -w "$work/wheels" "$repo"
"$work/venv/bin/pip" install --quiet "$(ls "$work"/wheels/jaxcurr-*.whl)[run]"
"$work/venv/bin/pip" install --quiet --no-deps "$repo/examples/pendulum_starts"
cd "$work/elsewhere"
jaxcurr="$work/venv/bin/jaxcurr"
tiny=(--set run.total_steps=1200 --set run.eval_every=400 --set run.seeds=2
      --set run.eval_episodes=1 --set run.chunk_logs=1 --set 'sac.hidden=[16]'
      --set sac.batch_size=16 --set sac.random_steps=100 --set sac.learning_starts=200
      --set sac.buffer_size=1200 --set 'teacher.hidden=[8]' --no-progress)
"$jaxcurr" list | grep pendulum_starts
"$jaxcurr" run pendulum_starts --out straight "${tiny[@]}"
"$jaxcurr" run pendulum_starts --out cut "${tiny[@]}" & pid=$!
until [ -f cut/metrics.npz ]; do sleep 0.2; done   # the first checkpoint, then Ctrl-C
kill -INT "$pid"; wait "$pid" || echo "interrupted: exit $?"
"$jaxcurr" run pendulum_starts --out cut --resume "${tiny[@]}"
"$work/venv/bin/python" - <<'PY'
import numpy as np
a, b = np.load("straight/metrics.npz"), np.load("cut/metrics.npz")
assert sorted(a.files) == sorted(b.files)
for name in a.files:
    assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
print(f"resumed run == uninterrupted run: {len(a.files)} arrays identical")
PY
"$jaxcurr" plot cut
"$jaxcurr" run pendulum_starts --out swept "${tiny[@]}" --set 'sweep.sac.temperature=[0.05, 0.2]'
echo "fresh venv check passed in $work"
