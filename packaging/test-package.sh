#!/usr/bin/env bash
# Builds the takedownd Debian package and checks it: control fields and
# computed dependencies, conffiles, maintainer scripts, every installed path
# and mode, the unit's hardening, and a smoke run of the packaged daemon.
# As root, where overlayfs works, it also installs, removes and purges the
# package in a throw-away overlay of / (the real system is not changed).
#
# Not run by CI (it takes minutes). See docs/operations.md, "Testing the
# package".
#
# usage: packaging/test-package.sh [BUILD_DIR]    (default: <repo>/build-pkg)
# env:   JOBS (build parallelism, default 2), SKIP_BUILD=1 (use the existing
#        .deb in BUILD_DIR), SKIP_OVERLAY=1 (no install test)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build-pkg}
work=$(mktemp -d /tmp/takedownd-pkg-test.XXXXXX)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

failures=0
pass() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
# expect_equal DESCRIPTION ACTUAL EXPECTED
expect_equal() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}

# --- build -----------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
	if [ ! -f "$build/CMakeCache.txt" ]; then
		cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAKEDOWN_BUILD_TESTS=OFF
	fi
	cmake --build "$build" -j"${JOBS:-2}"
	rm -f "$build"/takedownd_*.deb
	(cd "$build" && cpack -G DEB)
fi
shopt -s nullglob
debs=("$build"/takedownd_*.deb)
shopt -u nullglob
if [ "${#debs[@]}" -ne 1 ]; then
	echo "expected exactly one takedownd_*.deb in $build, found ${#debs[@]}" >&2
	exit 1
fi
deb=${debs[0]}
echo "checking $deb"
version=$(sed -n 's/^project(takedownd VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")

# --- control ---------------------------------------------------------------
expect_equal "Package" "$(dpkg-deb -f "$deb" Package)" takedownd
package_version=$(dpkg-deb -f "$deb" Version)
expect_equal "Version is the project's ($version) plus a revision" "${package_version%-*}" "$version"
expect_equal "Architecture" "$(dpkg-deb -f "$deb" Architecture)" "$(dpkg --print-architecture)"
# One package name per line, without versions.
dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' >"$work/depends"
for dep in adduser libc6 libstdc++6 'libgrpc++[0-9.]*'; do
	check "Depends names $dep (shlibdeps ran)" grep -qx "$dep" "$work/depends"
done
check "Maintainer is set" test -n "$(dpkg-deb -f "$deb" Maintainer)"

dpkg-deb -e "$deb" "$work/control"
expect_equal "conffiles" "$(cat "$work/control/conffiles")" \
	"$(printf '/etc/takedownd/takedownd.yaml\n/etc/logrotate.d/takedownd')"
for script in postinst prerm postrm; do
	expect_equal "$script mode" "$(stat -c %a "$work/control/$script")" 755
	check "$script parses (sh -n)" sh -n "$work/control/$script"
	if command -v shellcheck >/dev/null; then
		check "$script passes shellcheck" shellcheck -s sh "$work/control/$script"
	fi
done

# --- contents --------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' >"$work/contents"
# expect_entry MODE PATH: the package holds PATH with MODE, owned by root.
expect_entry() {
	local line
	line=$(awk -v p="$2" '$3 == p' "$work/contents")
	expect_equal "contains $2" "$line" "$1 root/root $2"
}
expect_entry -rwxr-xr-x ./usr/bin/takedownd
expect_entry -rwxr-xr-x ./usr/bin/takedownctl
expect_entry -rw-r----- ./etc/takedownd/takedownd.yaml
expect_entry drwxr-xr-x ./etc/takedownd/lists/
expect_entry -rw-r--r-- ./etc/logrotate.d/takedownd
expect_entry -rw-r--r-- ./lib/systemd/system/takedownd.service
for doc in operations.md configuration.md hash-lists.md metrics.md \
	examples/full.yaml examples/storage-access.conf examples/file-logging.conf; do
	expect_entry -rw-r--r-- "./usr/share/doc/takedownd/$doc"
done
unexpected=$(awk '$1 !~ /^d/ {print $3}' "$work/contents" |
	grep -Ev '^\./(usr/bin/takedown(d|ctl)|usr/share/doc/takedownd/.*|etc/takedownd/takedownd\.yaml|etc/logrotate\.d/takedownd|lib/systemd/system/takedownd\.service)$' || true)
expect_equal "no files outside the expected paths" "$unexpected" ""

root="$work/root"
dpkg-deb -x "$deb" "$root"
check "binaries are stripped" sh -c "! readelf -S '$root/usr/bin/takedownd' | grep -q '\.debug_info'"

# --- unit ------------------------------------------------------------------
unit="$root/lib/systemd/system/takedownd.service"
for directive in \
	Type=simple User=takedownd Group=takedownd \
	"ExecStartPre=/usr/bin/takedownd --config /etc/takedownd/takedownd.yaml --check-config" \
	"ExecStart=/usr/bin/takedownd --config /etc/takedownd/takedownd.yaml" \
	KillSignal=SIGTERM TimeoutStopSec=120 Restart=on-failure \
	StateDirectory=takedownd ReadWritePaths=-/var/spool/takedownd \
	NoNewPrivileges=yes ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes \
	PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
	ProtectKernelLogs=yes ProtectControlGroups=yes \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" RestrictNamespaces=yes \
	LockPersonality=yes MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
	CapabilityBoundingSet= WantedBy=multi-user.target; do
	check "unit has $directive" grep -qxF "$directive" "$unit"
done
if command -v systemd-analyze >/dev/null; then
	# Verify a copy whose commands point into the extracted tree, so the check
	# of the executables does not depend on what is installed here.
	sed "s|/usr/bin/takedownd|$root/usr/bin/takedownd|g" "$unit" >"$work/takedownd.service"
	# It exits 0 on unknown keys and merely warns: any output is a failure.
	verify_output=$(systemd-analyze verify "$work/takedownd.service" 2>&1) || verify_output+=" (exit status $?)"
	expect_equal "systemd-analyze verify: no warnings" "$verify_output" ""
	# The overall exposure, on systemd's 0..100 scale (1.3 "OK" is 13).
	check "systemd-analyze security: exposure at most 2.0" \
		systemd-analyze security --offline=true --threshold=20 "$unit"
fi

# --- the packaged daemon ---------------------------------------------------
takedownd="$root/usr/bin/takedownd"
takedownctl="$root/usr/bin/takedownctl"
expect_equal "takedownd --version" "$("$takedownd" --version)" "takedownd $version"
check "the shipped config is valid" "$takedownd" --config "$root/etc/takedownd/takedownd.yaml" --check-config

# The shipped config with every path moved into a temporary tree and ports
# chosen by the OS.
smoke="$work/smoke"
mkdir -p "$smoke/storage/customer" "$smoke/lists"
sed -e "s|/var/lib/takedownd|$smoke/data|" -e "s|/srv/storage|$smoke/storage|" \
	-e "s|/etc/takedownd/lists|$smoke/lists|" -e "s|/var/spool/takedownd/notices|$smoke/notices|" \
	-e "s|127.0.0.1:50051|127.0.0.1:0|" -e "s|127.0.0.1:9464|127.0.0.1:0|" \
	"$root/etc/takedownd/takedownd.yaml" >"$smoke/takedownd.yaml"
check "every path of the shipped config was moved" \
	sh -c "! grep -v '^ *#' '$smoke/takedownd.yaml' | grep -Eq '/var/|/srv/|/etc/|:50051|:9464'"
seq 1 2000 | sed 's/^/takedownd package smoke test line /' >"$smoke/storage/customer/planted.bin"
echo "an unrelated file" >"$smoke/storage/customer/other.txt"
planted_sha256=$(sha256sum "$smoke/storage/customer/planted.bin" | cut -c1-64)
printf 'hash_type,hash,category,entry_id\nsha256,%s,csam,smoke-1\n' "$planted_sha256" \
	>"$smoke/lists/hotline.csv"
check "the moved config is valid" "$takedownd" --config "$smoke/takedownd.yaml" --check-config

"$takedownd" --config "$smoke/takedownd.yaml" >"$smoke/daemon.log" 2>&1 &
daemon_pid=$!
ready_line=
for _ in $(seq 1 300); do
	ready_line=$(grep -m1 'takedownd ready' "$smoke/daemon.log" || true)
	if [ -n "$ready_line" ] || ! kill -0 "$daemon_pid" 2>/dev/null; then break; fi
	sleep 0.1
done
if [ -z "$ready_line" ]; then
	fail "the packaged daemon starts (log follows)"
	cat "$smoke/daemon.log"
else
	pass "the packaged daemon starts"
	grpc_port=$(sed -n 's/.*gRPC on port \([0-9]*\).*/\1/p' <<<"$ready_line")
	http_port=$(sed -n 's/.*HTTP on port \([0-9]*\).*/\1/p' <<<"$ready_line")
	expect_equal "/readyz" "$(curl -fsS "http://127.0.0.1:$http_port/readyz" || true)" ready
	check "takedownctl sweep start --wait" \
		"$takedownctl" --server "127.0.0.1:$grpc_port" sweep start --wait
	cases_json=$("$takedownctl" --server "127.0.0.1:$grpc_port" --json cases ls || true)
	check "the planted file became a case" grep -q "planted.bin" <<<"$cases_json"
	notices=()
	for _ in $(seq 1 100); do
		shopt -s nullglob
		notices=("$smoke"/notices/*.json)
		shopt -u nullglob
		if [ "${#notices[@]}" -gt 0 ]; then break; fi
		sleep 0.1
	done
	expect_equal "one notice in the file drop" "${#notices[@]}" 1
	kill -TERM "$daemon_pid"
	status=0
	wait "$daemon_pid" || status=$?
	daemon_pid=
	expect_equal "SIGTERM: exit status" "$status" 0
	report=$("$takedownd" --config "$smoke/takedownd.yaml" --verify-store || true)
	check "--verify-store: audit chain intact" grep -q '"audit_chain_ok": true' <<<"$report"
	check "--verify-store: one case" grep -q '"cases": 1,' <<<"$report"
fi

# --- install, remove, purge in an overlay of / ---------------------------
overlay_test() {
	local ov="$work/overlay"
	mkdir -p "$ov/upper" "$ov/work" "$ov/merged"
	cp "$deb" "$work/takedownd.deb"
	cp "$repo/packaging/test-install.sh" "$work/test-install.sh"
	# shellcheck disable=SC2016  # expanded by the inner shell
	unshare -m --propagation private bash -euc '
		ov=$1 work=$2
		mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$ov/merged"
		mount --bind /proc "$ov/merged/proc"
		mount --bind /dev "$ov/merged/dev"
		mkdir -p "$ov/merged/tmp/pkgtest"
		cp "$work/takedownd.deb" "$work/test-install.sh" "$ov/merged/tmp/pkgtest/"
		chroot "$ov/merged" bash /tmp/pkgtest/test-install.sh /tmp/pkgtest/takedownd.deb
	' overlay "$ov" "$work"
}
if [ "${SKIP_OVERLAY:-0}" = 1 ]; then
	echo "skip install test (SKIP_OVERLAY=1)"
elif [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "skip install test (needs root and unshare)"
else
	if overlay_test; then pass "install/remove/purge in an overlay"; else fail "install/remove/purge in an overlay"; fi
fi

echo
if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all checks passed"
