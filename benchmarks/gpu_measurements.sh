#!/usr/bin/env bash
# The accelerator measurements of benchmarks/RESULTS_gpu.md, one section per call:
#   bash benchmarks/gpu_measurements.sh MNIST_NPZ OUT_DIR [SECTION ...]
# Sections (default: torch), each under 8 minutes of commands (the sum of its time limits):
#   torch  JAX and PyTorch on the same GPU: the classifier at 32 and 2,048 seeds (the JAX
#          engine, then the vectorised PyTorch one), PointMaze's SAC + teacher in the authors'
#          form (one PyTorch process per seed on CUDA) at 12 and 128 runs
#   width  the RL programs at 12, 128 and 1,024 runs in one program (lunar_sac, pointmaze_acl,
#          fourrooms_sac; 100k-transition buffers, a 1,000-step random phase) and the
#          LunarLander port at 1 and 65,536 envs
#   mjx    MJX: Relocate env steps/s at 12, 1,024 and 8,192 envs, the host path beside it
# The machine's Python needs jax, flax, optax, chex and orbax; gymnax, gymnasium, flashbax and
# tomli-w beside them; torch with CUDA, mujoco and gymnasium-robotics for `torch`; mujoco-mjx
# for `mjx`. Each measurement is a fresh process with a time limit, so one that fails or runs
# long leaves the others' lines in OUT_DIR/measurements.jsonl.
# TINY=1 runs every command at a toy size on the CPU (PYTHON=.venv/bin/python), to check the
# script before a device call.
set -u
data=$1 out=$2
shift 2
sections=${*:-torch}
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
if [ "${TINY:-0}" = 1 ]; then
  device=cpu seeds="4 8" steps=150 runs="4 8" procs=2 starts=100 width="4 8" rl_steps=150
  rl_random=300 buffer=1000 envs="1 4" mjx_envs="2"
else
  device=cuda seeds="32 2048" steps=300 runs="12 128" procs=32 starts=500 width="12 128 1024"
  rl_steps=200 rl_random=1000 buffer=100000 envs="1 65536" mjx_envs="12 1024 8192"
fi
mkdir -p "$out"
log() { tee -a "$out/measurements.jsonl"; }
# limit SECONDS COMMAND...: run it with a time limit; a limit reached or a failure is a line too
limit() {
  local seconds=$1 rc
  shift
  timeout "$seconds" "$@" | log
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || echo "{\"failed\": \"$*\", \"exit\": $rc, \"limit_s\": $seconds}" | log
}
$py -c "import jax; print(jax.__version__, jax.devices())"
[ "$device" = cuda ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for section in $sections; do
  case $section in
  torch)  # limits: 20 + 2 x 40 + 2 x 120 + 130 = 470 s
    limit 20 $py -m benchmarks.measure_jax --matmul-peak
    for n in $seeds; do
      limit 40 $py -m benchmarks.measure_jax mnist_curriculum --seeds "$n" \
        --steps "$steps" --set "data.path=$data"
    done
    for n in $seeds; do
      limit 120 $py -m benchmarks.measure_torch mnist_curriculum --form vectorized \
        --device "$device" --seeds "$n" --steps $((steps / 3)) --set "data.path=$data"
    done
    # 128 runs as 128 processes, 32 at a time on the 16 cores
    limit 130 $py -m benchmarks.measure_start_curriculum --torch-only --device "$device" \
      --runs $runs --processes "$procs" --learning-starts "$starts" --torch-steps "$steps" \
      --torch-python "$py"
    ;;
  width)  # limits: 380 + 90 = 470 s
    limit 380 $py -m benchmarks.measure_rl_width --runs $width --steps "$rl_steps" \
      --buffer-size "$buffer" --random-steps "$rl_random"
    limit 90 $py -m benchmarks.measure_lunar_lander --jax-only --envs $envs \
      --sac-steps 0 --ppo-episodes 0
    ;;
  mjx)  # limit: 400 s
    limit 400 $py -m benchmarks.measure_mujoco --envs 12 --mjx-envs $mjx_envs
    ;;
  *)
    echo "gpu_measurements.sh: section: got '$section'; allowed: torch, width, mjx" >&2
    exit 2
    ;;
  esac
done
