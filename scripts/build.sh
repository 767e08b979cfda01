#!/usr/bin/env bash
# Configures and builds takedownd into BUILD_DIR (default: build/release).
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]
# BUILD_TARGET (default: all) names the one target to build, e.g. unit_tests.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/release}
shift || true
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" -j"${JOBS:-2}" --target "${BUILD_TARGET:-all}"
