#!/bin/sh
# runtime.sh - the image's runtime stage, after the binaries and the default config are
# copied in: the txscope system user (uid and gid 10001, the Dockerfile's USER), owners
# and modes of what was copied, and a smoke test: every shared library resolves and both
# programs run as that user.
#
#   deploy/image/runtime.sh ROOT
#
# The Dockerfile RUNs it with ROOT=/. tests/scripts/image_test.sh runs it against a
# staging root; the user is then created on the machine it runs on, when missing.
set -eu
[ $# = 1 ] && [ -n "$1" ] || {
    echo "usage: deploy/image/runtime.sh ROOT" >&2
    exit 2
}
root=${1%/}
name=txscope
id=10001 # fixed: Kubernetes' runAsNonRoot needs a numeric USER; volumes are chowned to it

die() {
    echo "runtime.sh: $*" >&2
    exit 1
}

# The user: no home, no shell, no password; a system account of its own group.
getent group "$name" >/dev/null || groupadd --system --gid "$id" "$name"
getent passwd "$name" >/dev/null ||
    useradd --system --uid "$id" --gid "$id" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$name"
[ "$(id -u "$name")" = "$id" ] && [ "$(id -g "$name")" = "$id" ] ||
    die "user $name exists with uid:gid $(id -u "$name"):$(id -g "$name"), not $id:$id"

# What the daemon runs from belongs to root: the txscope user reads the config and runs
# the binaries but can change neither (nothing in the image is the daemon's to write).
for f in usr/bin/txscoped usr/bin/txscope etc/txscope/txscope.ini; do
    [ -f "$root/$f" ] || die "missing $root/$f"
done
chown root:root "$root/usr/bin/txscoped" "$root/usr/bin/txscope" \
    "$root/etc/txscope" "$root/etc/txscope/txscope.ini"
chmod 0755 "$root/usr/bin/txscoped" "$root/usr/bin/txscope" "$root/etc/txscope"
chmod 0644 "$root/etc/txscope/txscope.ini"

# Smoke test: a runtime library left out of the image fails the build here.
for b in txscoped txscope; do
    libs=$(ldd "$root/usr/bin/$b") || die "ldd $b failed"
    if echo "$libs" | grep -q 'not found'; then
        echo "$libs" | grep 'not found' >&2
        die "$b: shared libraries missing"
    fi
done
v=$(setpriv --reuid="$id" --regid="$id" --clear-groups "$root/usr/bin/txscoped" -V)
echo "$v" | grep -q '^txscoped [0-9]' || die "txscoped -V printed \"$v\""
v=$(setpriv --reuid="$id" --regid="$id" --clear-groups "$root/usr/bin/txscope" --version)
echo "$v" | grep -q '^txscope [0-9]' || die "txscope --version printed \"$v\""
echo "runtime.sh: user $name ($id:$id); $(echo "$v" | head -n 1) and txscoped run as it"
