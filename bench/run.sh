#!/usr/bin/env bash
# Builds takedownd/takedownctl (release build) and runs the sweep benchmark.
#   bench/run.sh [sweep_bench.py options...]      e.g. bench/run.sh --quick
# Environment: BUILD_DIR (default build/bench), BUILD_TYPE (default
# RelWithDebInfo, as scripts/build.sh and the package), SKIP_BUILD=1 to use
# an existing build, JOBS (parallel build jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build/bench}
build_type=${BUILD_TYPE:-RelWithDebInfo}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  if [[ -x scripts/build.sh ]]; then
    scripts/build.sh "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DTAKEDOWN_BUILD_TESTS=OFF
  else
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" -DTAKEDOWN_BUILD_TESTS=OFF
    cmake --build "$build_dir" --target takedownd takedownctl -j"${JOBS:-2}"
  fi
fi

exec python3 bench/sweep_bench.py --build-dir "$build_dir" "$@"
