#!/usr/bin/env bash
# The GPU benchmark (`cargo xtask bench gpu`, kernel part) on a machine with a real GPU,
# natively through Vulkan: every kernel at 100k × 384 on the GPU and the CPU backend, and
# the distance kernel's share of the card's fp32 peak.
#
# Usage: scripts/bench-real-gpu.sh [PEAK_GFLOPS] [extra bench flags, e.g. --plan]
#   PEAK_GFLOPS: the card's fp32 peak; without it, looked up by nvidia-smi's card name.
# Runs target/release/examples/bench when it is there (a machine without a crate
# registry can run a binary built elsewhere), else builds it. Fails when the only
# adapter is a software one (lavapipe), so a missing driver is never reported as a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

peak="${1:-}"
shift || true
if [[ -z "$peak" ]] && command -v nvidia-smi >/dev/null; then
  card="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)"
  # fp32 peak (GFLOP/s, boost clock, non-tensor) from the vendors' data sheets.
  case "$card" in
    *H200*|*H100*SXM*|*"H100 80GB HBM3"*) peak=66900 ;;
    *H100*PCIe*) peak=51200 ;;
    *A100*) peak=19500 ;;
    *L40S*) peak=91600 ;;
    *L4*) peak=30300 ;;
    *A10*) peak=31200 ;;
    *T4*) peak=8100 ;;
    *"RTX 4090"*) peak=82600 ;;
    *) echo "unknown card '$card': pass its fp32 peak in GFLOP/s as the first argument" >&2; exit 2 ;;
  esac
  echo "card: $card, fp32 peak $peak GFLOP/s"
fi
[[ -n "$peak" ]] || { echo "pass the card's fp32 peak in GFLOP/s as the first argument" >&2; exit 2; }

# A headless NVIDIA container: the driver's default Vulkan ICD (libGLX_nvidia) fails at
# vkCreateInstance without a display; its EGL library is the same driver and works
# headless. (Also needed: the Vulkan loader libvulkan.so.1; put a copy on
# LD_LIBRARY_PATH where the machine lacks it.)
if [[ -z "${VK_ICD_FILENAMES:-}" && -z "${DISPLAY:-}" ]] && ldconfig -p | grep -q libEGL_nvidia.so.0; then
  icd="$(mktemp --suffix=.json)"
  echo '{"file_format_version": "1.0.1", "ICD": {"library_path": "libEGL_nvidia.so.0", "api_version": "1.3.0"}}' >"$icd"
  export VK_ICD_FILENAMES="$icd"
fi

bin=target/release/examples/bench
[[ -x "$bin" ]] || cargo build --release -p labelplan-gpu --example bench
exec "$bin" --require-hardware --peak-gflops "$peak" "$@"
