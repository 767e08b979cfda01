#!/usr/bin/env bash
# Sets up everything and runs every test: installs dependencies, builds with
# -Wall -Wextra -Werror and runs the whole suite (unit, fuzz-corpus replay,
# integration), then builds with AddressSanitizer + UndefinedBehaviorSanitizer
# and runs the unit tests again. Run as root on Debian 12:  bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export JOBS=${JOBS:-2}

bash scripts/install-deps.sh

# Line tables only (-g1): full debug info of the gRPC/Abseil templates made
# the CI builds about 1.5x (plain) and 2.3x (sanitized, with -O1) slower.
ci_flags=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
asan_flags=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")

echo "== build (warnings are errors)"
bash scripts/build.sh build/ci -DTAKEDOWN_WERROR=ON "${ci_flags[@]}"
echo "== tests"
(cd build/ci && ctest --output-on-failure -j"$JOBS" --timeout 600)

if [ "${TAKEDOWN_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== build with ASan + UBSan"
  # Only what the unit tests need: ctest fails loudly if a unit test's
  # executable was not built.
  BUILD_TARGET=unit_tests bash scripts/build.sh build/asan -DTAKEDOWN_WERROR=ON -DTAKEDOWN_SANITIZE=ON "${asan_flags[@]}"
  echo "== unit tests under ASan + UBSan"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j"$JOBS" --timeout 600 -L unit)
fi
echo "== all tests passed"
