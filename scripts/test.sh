#!/usr/bin/env bash
# Sets up everything and runs every test: installs dependencies, builds with
# -Wall -Wextra -Werror under AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs the whole suite (unit, fuzz-corpus replay, integration) on that
# one build, so the daemon the integration tests drive is sanitized too.
# Run as root on Debian 12:  bash scripts/test.sh
#
# TAKEDOWN_SANITIZE=0 builds without sanitizers at -O2 instead (quicker to
# run; the release build of scripts/demo.sh is the same configuration).
set -euo pipefail
cd "$(dirname "$0")/.."
export JOBS=${JOBS:-2}

bash scripts/install-deps.sh

# Line tables only (-g1): full debug info of the gRPC/Abseil templates made
# the builds about 1.5x (plain) and 2.3x (sanitized) slower. -O1 under the
# sanitizers: as fast to run as -O2 there, and much quicker to compile.
if [ "${TAKEDOWN_SANITIZE:-1}" = 1 ]; then
  build_dir=build/ci-asan
  flags=(-DTAKEDOWN_SANITIZE=ON -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
         -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG")
  echo "== build with ASan + UBSan (warnings are errors)"
else
  build_dir=build/ci
  flags=(-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
  echo "== build (warnings are errors)"
fi
bash scripts/build.sh "$build_dir" -DTAKEDOWN_WERROR=ON "${flags[@]}"

echo "== tests"
# Leaks are errors, also in the daemons the integration tests start and stop.
(cd "$build_dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$JOBS" --timeout 900)
echo "== all tests passed"
