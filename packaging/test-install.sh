#!/usr/bin/env bash
# Installs, reinstalls, removes and purges a takedownd .deb and checks what
# the maintainer scripts leave behind. DESTRUCTIVE for the system it runs on:
# test-package.sh runs it only inside a chroot into a throw-away overlay of /.
#
# usage: test-install.sh PATH/TO/takedownd.deb
set -uo pipefail

deb=$1
failures=0
pass() { echo "ok   install: $*"; }
fail() {
	echo "FAIL install: $*"
	failures=$((failures + 1))
}
check() {
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
expect_equal() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}
# expect_stat PATH OWNER:GROUP MODE
expect_stat() {
	expect_equal "$1 is $2 $3" "$(stat -c '%U:%G %a' "$1" 2>&1)" "$2 $3"
}

if getent passwd takedownd >/dev/null; then
	echo "a takedownd user exists already: not a clean system" >&2
	exit 1
fi

check "dpkg -i" dpkg -i "$deb"
check "installed and configured" sh -c "dpkg-query -W -f='\${Status}' takedownd | grep -qx 'install ok installed'"
expect_equal "system user" "$(getent passwd takedownd | cut -d: -f6,7)" "/var/lib/takedownd:/usr/sbin/nologin"
check "system uid (below 1000)" test "$(id -u takedownd)" -lt 1000
expect_equal "primary group" "$(id -gn takedownd)" takedownd
expect_stat /var/lib/takedownd takedownd:takedownd 750
expect_stat /var/log/takedownd root:adm 2750
expect_stat /var/spool/takedownd takedownd:takedownd 750
expect_stat /var/spool/takedownd/notices takedownd:takedownd 750
expect_stat /etc/takedownd/takedownd.yaml root:takedownd 640
expect_stat /etc/takedownd/lists root:takedownd 750
expect_stat /lib/systemd/system/takedownd.service root:root 644
expect_stat /usr/bin/takedownd root:root 755
check "the takedownd user can read and validate the config" \
	runuser -u takedownd -- /usr/bin/takedownd --config /etc/takedownd/takedownd.yaml --check-config
check "others cannot read the config" sh -c "! runuser -u nobody -- cat /etc/takedownd/takedownd.yaml"
if command -v logrotate >/dev/null; then
	check "logrotate -d accepts /etc/logrotate.d/takedownd" \
		logrotate -d -s /tmp/logrotate.state /etc/logrotate.d/takedownd
fi

# An administrator's change to an owned directory survives a reinstall.
chmod 0770 /var/spool/takedownd/notices
check "dpkg -i again (upgrade path)" dpkg -i "$deb"
expect_stat /var/spool/takedownd/notices takedownd:takedownd 770
expect_stat /etc/takedownd/takedownd.yaml root:takedownd 640
expect_stat /etc/takedownd/lists root:takedownd 750

# Data to keep: a store and a hash list.
install -d -o takedownd -g takedownd -m 0750 /var/lib/takedownd/store
echo data >/var/lib/takedownd/store/CURRENT
echo "sha256,$(printf '%064d' 0),csam" >/etc/takedownd/lists/hotline.csv
echo log >/var/log/takedownd/takedownd.log

check "dpkg -r" dpkg -r takedownd
check "remove: binary gone" test ! -e /usr/bin/takedownd
check "remove: unit gone" test ! -e /lib/systemd/system/takedownd.service
check "remove: config kept" test -f /etc/takedownd/takedownd.yaml
check "remove: user kept" getent passwd takedownd

check "dpkg -P" dpkg -P takedownd
check "purge: config gone" test ! -e /etc/takedownd/takedownd.yaml
check "purge: logrotate file gone" test ! -e /etc/logrotate.d/takedownd
check "purge: logs gone" test ! -e /var/log/takedownd
check "purge: empty spool gone" test ! -e /var/spool/takedownd
check "purge: store kept" test -f /var/lib/takedownd/store/CURRENT
check "purge: hash list kept" test -f /etc/takedownd/lists/hotline.csv
check "purge: user kept while its files remain" getent passwd takedownd
check "purge: stat overrides gone" sh -c "! dpkg-statoverride --list | grep -q takedownd"

check "dpkg -i over kept data" dpkg -i "$deb"
expect_stat /etc/takedownd/takedownd.yaml root:takedownd 640
check "TAKEDOWND_PURGE_DATA=yes dpkg -P" env TAKEDOWND_PURGE_DATA=yes dpkg -P takedownd
check "purge all: store gone" test ! -e /var/lib/takedownd
check "purge all: /etc/takedownd gone" test ! -e /etc/takedownd
check "purge all: user gone" sh -c "! getent passwd takedownd"
check "purge all: group gone" sh -c "! getent group takedownd"

exit "$((failures > 0))"
