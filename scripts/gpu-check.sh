#!/usr/bin/env bash
# The first run on a GPU host: from a fresh clone, with only the npm registry and PyPI.
#
#   0. stops at once, with a FAIL verdict, when the host shows no GPU (no /dev/nvidiaN,
#      or no NVIDIA driver library libcuda.so.1);
#   1. installs the packages, the CPU binding and the GPU binding (scripts/install-tfjs-node.sh,
#      CUDA 11.8 / cuDNN 8.9 from PyPI), and builds;
#   2. confirms TensorFlow sees the GPU (`tensorflow-gpu` selected, isUsingGpuDevice);
#   3. bench:step for small-cnn, madry-cnn and preact-resnet-18 (plain, FGSM-RS, PGD-10, batch 128)
#      on tensorflow-gpu, and beside it on tensorflow pinned to 2 CPU cores (taskset, 2-thread
#      TF pools); the two run at the same time on disjoint cores when the host has 4 or more;
#   4. trains 2 local workers on MNIST for 2 epochs on the GPU;
#   5. writes bench/results/gpu.json and prints its verdict: PASS when TensorFlow used the GPU,
#      every model's step ran as compiled graphs there, the preact-resnet-18 PGD-10 step is at
#      least 20x the 2-core CPU step, training finished with a sane accuracy, and all of it
#      took under 8 minutes.
#
# With --bundle DIR (a host that reaches neither npm nor PyPI), step 1 unpacks what
# scripts/gpu-bundle.sh pack made elsewhere instead of installing and building, and the CPU
# baseline is the same libtensorflow 2.9.1 (the GPU build) with CUDA_VISIBLE_DEVICES=-1,
# since the bundle carries no CPU binding. The report says which baseline ran.
#
# Exit status: 0 PASS, 1 FAIL (the verdict line says why), 2 usage.
# Usage: scripts/gpu-check.sh [--budget-s N] [--bundle DIR]   (default 480 s)
# GPU_CHECK_KEEP=DIR keeps each step's log and bench result in DIR.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"

budget_s=480
bundle=
while [ $# -gt 0 ]; do
  case "$1" in
    --budget-s) budget_s="${2:?--budget-s needs seconds}"; shift ;;
    --bundle) bundle="${2:?--bundle needs the directory scripts/gpu-bundle.sh pack wrote}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

readonly STARTED=$SECONDS
readonly RESULTS=bench/results
readonly WORK="${TMPDIR:-/tmp}/dat-gpu-check.$$"
readonly SPEEDUP_TARGET=20
# TF 2.9 ships PTX, not SASS, for GPUs newer than Ampere: the driver JIT-compiles its kernels
# once, and the default 256 MB cache would evict them between the runs below.
export CUDA_CACHE_MAXSIZE="${CUDA_CACHE_MAXSIZE:-4294967296}"
# Load (and JIT) a CUDA module when one of its kernels first runs, not all of them at start-up
# (CUDA 11.7+): the worker uses a few hundred of libtensorflow's thousands of kernels.
export CUDA_MODULE_LOADING="${CUDA_MODULE_LOADING:-LAZY}"
mkdir -p "$WORK" "$RESULTS"
# GPU_CHECK_KEEP=DIR keeps the step logs and bench results there (a remote run's only record).
keep_logs() {
  [ -n "${GPU_CHECK_KEEP:-}" ] || return 0
  mkdir -p "$GPU_CHECK_KEEP"
  local f
  for f in "$WORK"/*.log "$WORK/step-gpu/step.json" "$WORK/step-cpu2/step.json"; do
    [ -f "$f" ] && cp "$f" "$GPU_CHECK_KEEP/$(basename "$(dirname "$f")" | sed 's/^dat-gpu-check.*//')${f##*/}"
  done
  return 0
}
trap 'keep_logs; rm -rf "$WORK"' EXIT

say() { printf 'gpu-check [%3ds]: %s\n' "$((SECONDS - STARTED))" "$*" >&2; }
fail() { echo "gpu-check: VERDICT: FAIL: $* (after $((SECONDS - STARTED)) s)"; exit 1; }
left() { echo $((budget_s - (SECONDS - STARTED))); }
# Runs a step with what is left of the budget (at least 30 s, so the verdict says which step ran out).
within_budget() { local s; s="$(left)"; [ "$s" -ge 30 ] || s=30; timeout --kill-after=10 "$s" "$@"; }

# ---------------------------------------------------------------- 0. a GPU at all?
find_driver_library() {
  local d ldp="${LD_LIBRARY_PATH:-}"
  for d in ${ldp//:/ } /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/lib/wsl/lib; do
    if [ -e "$d/libcuda.so.1" ]; then echo "$d/libcuda.so.1"; return 0; fi
  done
  if command -v ldconfig >/dev/null 2>&1; then
    ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 / {print $NF; found=1; exit} END {exit !found}' && return 0
  fi
  return 1
}
shopt -s nullglob
devices=(/dev/nvidia[0-9]*)
shopt -u nullglob
driver_lib="$(find_driver_library || true)"
missing=()
[ "${#devices[@]}" -gt 0 ] || missing+=("no /dev/nvidiaN device nodes")
[ -n "$driver_lib" ] || missing+=("NVIDIA driver library libcuda.so.1 not found")
if [ "${#missing[@]}" -gt 0 ]; then
  fail "no GPU on this host: $(IFS=';'; echo "${missing[*]}" | sed 's/;/; /g')"
fi
gpu_name="unknown"
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu_name="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
fi
say "GPU: ${gpu_name} (${devices[*]}; ${driver_lib})"

# ---------------------------------------------------------------- 1. install and build
t0=$SECONDS
# The baseline's environment: nothing extra when the CPU binding is installed, the GPU hidden
# from the GPU build when the bundle stands in for it.
cpu_env=()
if [ -n "$bundle" ]; then
  within_budget bash scripts/gpu-bundle.sh unpack "$bundle" >&2 || fail "the bundle in $bundle did not unpack"
  export PATH="$ROOT/.gpu-runtime/bin:$PATH"
  cpu_line="CPU baseline: the GPU build's libtensorflow $(sed -n 's/^TF_VERSION=//p' scripts/tfjs-node/versions.env) with CUDA_VISIBLE_DEVICES=-1 (bundle)"
  cpu_env=(CUDA_VISIBLE_DEVICES=-1)
  gpu_line="$(within_budget bash scripts/install-tfjs-node.sh --gpu --offline)" || fail "the bundle's GPU binding does not load: $gpu_line"
else
  within_budget bash scripts/ensure-npm.sh >&2 || fail "npm ci failed"
  cpu_line="$(within_budget bash scripts/install-tfjs-node.sh 2>&2)" || true
  case "$cpu_line" in
    "native backend installed"*|"native backend already installed"*) ;;
    *) fail "the CPU binding (the baseline) did not install: $cpu_line" ;;
  esac
  gpu_line="$(within_budget bash scripts/install-tfjs-node.sh --gpu)" || fail "the GPU binding did not install: $gpu_line"
  within_budget bash scripts/build-native-kernels.sh >&2 || fail "the native kernels did not build"
  within_budget npx tsc -p tsconfig.json >&2 || fail "the TypeScript build failed"
fi
install_s=$((SECONDS - t0))
say "installed and built in ${install_s}s: $gpu_line"

# ---------------------------------------------------------------- 2. TensorFlow sees the GPU
probe="$(within_budget node --input-type=module -e '
  const { selectBackend } = await import(process.argv[1]);
  const { silentLogger } = await import(process.argv[2]);
  try {
    const info = await selectBackend("tensorflow-gpu", silentLogger);
    console.log(JSON.stringify({ ok: true, backend: info.name, isUsingGpuDevice: info.tf.backend().isUsingGpuDevice === true }));
  } catch (err) {
    console.log(JSON.stringify({ ok: false, reason: String(err.message ?? err) }));
  }' "$ROOT/dist/worker/backend/select-backend.js" "$ROOT/dist/common/log.js" | tail -1)" || fail "the GPU probe crashed"
case "$probe" in
  *'"ok":true'*'"isUsingGpuDevice":true'*) say "TensorFlow uses the GPU: $probe" ;;
  *) fail "TensorFlow does not see the GPU: $probe" ;;
esac

# ---------------------------------------------------------------- 3. bench:step, GPU beside 2 CPU cores
models=small-cnn,madry-cnn,preact-resnet-18
kinds=plain,fgsmrs,pgd10
cores="$(nproc)"
t0=$SECONDS
# The CPU baseline: 2 cores, 2-thread TF pools, the compiled step (as `dat train` runs it).
cpu_bench=(env "${cpu_env[@]}" TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=2 taskset -c 0,1 node dist/bench/step.js --backends tensorflow
           --models "$models" --kinds "$kinds" --reps 2 --min-time-ms 0 --out-dir "$WORK/step-cpu2")
gpu_bench=(node dist/bench/step.js --backends tensorflow-gpu --models "$models" --kinds "$kinds" --reps 5 --min-time-ms 1000 --out-dir "$WORK/step-gpu")
if [ "$cores" -ge 4 ]; then
  # Disjoint cores: the GPU run's host threads do not slow the 2-core baseline.
  within_budget "${cpu_bench[@]}" > "$WORK/cpu-bench.log" 2>&1 &
  cpu_pid=$!
  within_budget taskset -c "2-$((cores - 1))" "${gpu_bench[@]}" > "$WORK/gpu-bench.log" 2>&1 || { tail -5 "$WORK/gpu-bench.log" >&2; fail "bench:step on tensorflow-gpu failed"; }
  wait "$cpu_pid" || { tail -5 "$WORK/cpu-bench.log" >&2; fail "bench:step on the 2-core CPU failed or ran out of time"; }
else
  within_budget "${gpu_bench[@]}" > "$WORK/gpu-bench.log" 2>&1 || { tail -5 "$WORK/gpu-bench.log" >&2; fail "bench:step on tensorflow-gpu failed"; }
  within_budget "${cpu_bench[@]}" > "$WORK/cpu-bench.log" 2>&1 || { tail -5 "$WORK/cpu-bench.log" >&2; fail "bench:step on the 2-core CPU failed or ran out of time"; }
fi
bench_s=$((SECONDS - t0))
grep -E '^(tensorflow|skipped)' "$WORK/gpu-bench.log" "$WORK/cpu-bench.log" >&2 || true
say "bench:step done in ${bench_s}s"

# ---------------------------------------------------------------- 4. 2 workers on the GPU
t0=$SECONDS
run_dir="$WORK/train"
within_budget node bin/dat.js train --workers 2 --backend tensorflow-gpu --dataset mnist --epochs 2 --progress plain \
  --output "$run_dir" > "$WORK/train.log" 2>&1 || { tail -5 "$WORK/train.log" >&2; fail "training 2 workers on the GPU failed"; }
train_s=$((SECONDS - t0))
say "trained 2 workers for 2 epochs in ${train_s}s"

# ---------------------------------------------------------------- 5. gpu.json and the verdict
node "$ROOT/scripts/tfjs-node/gpu-check-report.mjs" \
  --gpu "$WORK/step-gpu/step.json" --cpu "$WORK/step-cpu2/step.json" --metrics "$run_dir/metrics.json" \
  --out "$RESULTS/gpu.json" --gpu-name "$gpu_name" --install-line "$gpu_line" --cpu-baseline "$cpu_line" --probe "$probe" --target "$SPEEDUP_TARGET" \
  --seconds "install=$install_s,bench=$bench_s,train=$train_s,total=$((SECONDS - STARTED))" --budget-s "$budget_s"
