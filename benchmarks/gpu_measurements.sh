#!/usr/bin/env bash
# The accelerator measurements of benchmarks/RESULTS_gpu.md in one call:
#   bash benchmarks/gpu_measurements.sh MNIST_NPZ OUT_DIR
# (an accelerator machine whose Python has jax, flax, optax, chex and orbax; gymnax, gymnasium,
# flashbax and tomli-w installed beside them; mujoco, mujoco-mjx and gymnasium-robotics for the
# MJX rows; torch with CUDA for the PyTorch rows on the same GPU). Each measurement is a fresh
# process with a time
# limit, so one that fails or runs long leaves the others' lines in OUT_DIR/measurements.jsonl.
set -u
data=$1 out=$2
export PYTHONUNBUFFERED=1
mkdir -p "$out"
log() { tee -a "$out/measurements.jsonl"; }
python3 -c "import jax; print(jax.__version__, jax.devices())"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m benchmarks.measure_jax --matmul-peak | log
for seeds in 32 128 512 2048; do
  timeout 100 python3 -m benchmarks.measure_jax mnist_curriculum --seeds "$seeds" --steps 500 \
    --set "data.path=$data" | log
done
# PyTorch on the same GPU: the vectorised classifier baseline (torch.func + torch.compile)
for seeds in 32 512 2048; do
  timeout 150 python3 -m benchmarks.measure_torch mnist_curriculum --form vectorized \
    --device cuda --seeds "$seeds" --steps 200 --set "data.path=$data" | log
done
# The RL programs' width: 12, 128 and 1,024 runs, 100k-transition buffers per run
timeout 420 python3 -m benchmarks.measure_rl_width --runs 12 128 1024 --steps 1000 \
  --buffer-size 100000 | log
timeout 240 python3 -m benchmarks.measure_lunar_lander --jax-only --envs 1 64 1024 8192 65536 \
  --sac-steps 1000 --ppo-episodes 10 | log
timeout 120 python3 -c "import json; from benchmarks.measure_start_curriculum import measure_jax
print(json.dumps({'pointmaze_jax': measure_jax('pointmaze', 2500, 2)}))" | log
# MJX: Relocate env steps/s at 12 and wider batches (compile about a minute each), host beside
timeout 400 python3 -m benchmarks.measure_mujoco --envs 12 --mjx-envs 12 1024 8192 | log
