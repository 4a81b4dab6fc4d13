#!/usr/bin/env bash
# The gradient-norm study of issue 38 (REPORT §5.3) at 10 seeds on one GPU, in device calls of
# under 9 minutes each (benchmarks/RESULTS_gpu.md):
#   bash benchmarks/gpu_study.sh OUT_DIR
# runs pointmaze_medium_acl (200,000 env steps) and pointmaze_large_acl (300,000) side by side
# (two processes, each allowed 45% of the GPU's memory), the three methods (no_teacher,
# mean_norm, sum_norm) x 10 seeds each, the experiments' settings otherwise (a checkpoint every
# 10,000 env steps). The run directories live in STUDY_DIR (default runs/gpu_study, a folder git
# ignores, which a device machine keeps between calls while it is held) and their checkpoints in
# JAXCURR_CHECKPOINT_DIR (default STUDY_DIR/checkpoints); a run directory that exists is
# continued (--resume; a finished one only says so), so calls repeat until both maps finish.
# BUDGET seconds (default 450) after the script starts, each run gets SIGINT: jaxcurr stops at
# its next safe point keeping its last checkpoint (exit 130), and is killed GRACE seconds
# (default 45) later if it has not. Then each run directory, without its checkpoints, is
# copied to OUT_DIR/<run directory>, with the run's output in OUT_DIR/<run directory>.log, and
# OUT_DIR/study.jsonl gets one line per map: exit code, seconds, windows done.
# The machine's Python (PYTHON, default python3) needs jaxcurr's dependencies; jaxcurr is
# imported from the repository root (the working directory).
# TINY=1 runs the same on the CPU at a toy size (2 seeds, 2,400 env steps in 2 windows, 16-unit
# networks), to check the script before a device call (PYTHON=.venv/bin/python).
set -u
out=$1
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
study=${STUDY_DIR:-runs/gpu_study}
budget=${BUDGET:-450} grace=${GRACE:-45}
export JAXCURR_CHECKPOINT_DIR=${JAXCURR_CHECKPOINT_DIR:-$study/checkpoints}
export JAXCURR_COMPILATION_CACHE=${JAXCURR_COMPILATION_CACHE:-$study/xla-cache}
if [ "${TINY:-0}" = 1 ]; then
  export JAX_PLATFORMS=cpu
  sets=(--set run.seeds=2 --set run.total_steps=2400 --set run.eval_every=1200
        --set run.eval_episodes=1 --set run.chunk_logs=1 --set 'sac.hidden=[16, 16]'
        --set sac.batch_size=16 --set sac.random_steps=300 --set sac.learning_starts=600
        --set 'teacher.hidden=[8]' --set teacher.episodes_per_trajectory=1
        --set teacher.baseline_steps=1)
else
  export XLA_PYTHON_CLIENT_MEM_FRACTION=0.45
  sets=(--set run.seeds=10)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
mkdir -p "$out" "$study"
deadline=$((SECONDS + budget))

# run_map EXPERIMENT RUN_DIR_NAME: start or continue one map's run; stop it at the deadline
run_map() {
  local name=$1 dir=$study/$2 flag=() left rc start=$SECONDS windows
  left=$((deadline - SECONDS))
  if [ -f "$dir/config.toml" ]; then
    flag=(--resume)
  elif [ -e "$dir/.jaxcurr-run" ]; then  # stopped between its marker and its config
    flag=(--overwrite)
  fi
  timeout --preserve-status -s INT -k "$grace" "$left" "$py" -m jaxcurr.cli run "$name" --out "$dir" \
    "${flag[@]}" "${sets[@]}" --no-progress > "$out/$2.log" 2>&1
  rc=$?
  if [ -d "$dir" ]; then
    mkdir -p "$out/$2"
    for f in config.toml metrics.npz summary.json metrics.jsonl progress.json figures; do
      [ -e "$dir/$f" ] && cp -r "$dir/$f" "$out/$2/"
    done
  fi
  windows=$(sed -n 's/.*"windows_done": \([0-9]*\).*/\1/p' "$dir/progress.json" 2>/dev/null)
  echo "{\"experiment\": \"$name\", \"run_dir\": \"$2\", \"exit\": $rc," \
    "\"seconds\": $((SECONDS - start)), \"windows_done\": ${windows:-0}," \
    "\"continued\": $([ "${flag[*]}" = --resume ] && echo true || echo false)}" \
    >> "$out/study.jsonl"
}

run_map pointmaze_medium_acl pointmaze_medium_study &
run_map pointmaze_large_acl pointmaze_large_study &
wait
for log in "$out"/pointmaze_*_study.log; do
  echo "== $log"
  tail -n 12 "$log"
done
tail -n 2 "$out/study.jsonl"
