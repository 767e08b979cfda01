#!/usr/bin/env bash
# The demo: installs dependencies, builds, generates a synthetic storage tree
# with a demo hash list, runs takedownd on config/examples/demo.yaml, sweeps
# the tree, and prints what was found and where the notices went.
# Run as root on Debian 12:  bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh
echo "== building (this takes a few minutes the first time)"
bash scripts/build.sh build/release -DTAKEDOWN_BUILD_TESTS=OFF
bin=$root/build/release/daemon

echo "== generating demo data in demo-out/"
rm -rf demo-out/data demo-out/notices
python3 scripts/make-demo-tree.py demo-out --files "${DEMO_FILES:-3000}"

config=config/examples/demo.yaml
ctl() { "$bin/takedownctl" --config "$config" "$@"; }

echo "== starting takedownd --config $config"
"$bin/takedownd" --config "$config" 2> demo-out/takedownd.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
http=$(python3 - "$config" <<'PY'
import re, sys
m = re.search(r"http_listen:\s*\"?([^\"\s]+)", open(sys.argv[1]).read())
print(m.group(1) if m else "127.0.0.1:9464")
PY
)
for _ in $(seq 1 100); do
  if curl -fsS "http://$http/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "takedownd exited; its log:"; cat demo-out/takedownd.log; exit 1; fi
  sleep 0.1
done

echo "== hash lists"
ctl lists ls
echo
echo "== sweeping"
ctl sweep start --wait
echo
echo "== cases"
ctl cases ls --limit 10
ncases=$(ctl --json cases ls | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expected=$(python3 -c 'import json; print(len(json.load(open("demo-out/expected.json"))["known"]))')
first=$(ctl --json cases ls --limit 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
echo "($ncases cases; the demo list names $expected files of the tree)"
echo
echo "== one case in full"
ctl cases show "$first"
sleep 1.5  # let the outbox deliver
echo
echo "== notices: $(ls demo-out/notices | wc -l) JSON files in $root/demo-out/notices/, e.g."
ls demo-out/notices | head -3
echo
echo "== metrics (http://$http/metrics), an excerpt"
curl -fsS "http://$http/metrics" | grep -E '^takedown_(objects_swept_total|bytes_swept_total|matches_total|cases\{state="(detected|in_review)"\}|errors_total)' || true
echo
echo "== sweeping again: unchanged objects (same size, mtime, inode) are not re-read"
ctl sweep start --wait
echo
echo "== store, audit log and daemon log: demo-out/data/store (RocksDB), demo-out/takedownd.log"
kill -TERM $pid
wait $pid
trap - EXIT
echo "takedownd stopped cleanly (SIGTERM)."
