#!/bin/sh
# build.sh - the image's build stage: the release binaries, the unit tests (built and
# run), then `make install DESTDIR=DESTDIR PREFIX=/usr`.
#
#   deploy/image/build.sh DESTDIR
#
# The Dockerfile RUNs it in /src; tests/scripts/image_test.sh runs it in the work tree
# (make reuses what is already built) to check what the image would contain, so the two
# cannot drift. The unit tests run in the release flavour: they test the very objects the
# image ships (-O2), need no database, and avoid ASan, which breaks in container builds on
# hosts with vm.mmap_rnd_bits = 32 (gcc 12's runtime) and whose LeakSanitizer needs
# ptrace; `make check` runs the ASan/UBSan flavour.
set -eu
[ $# = 1 ] && [ -n "$1" ] || {
    echo "usage: deploy/image/build.sh DESTDIR" >&2
    exit 2
}
dest=$1
cd "$(dirname "$0")/../.."

jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" FLAVOUR=release bin/txscoped bin/txscope build/release/bin/unit_tests
echo "== unit tests (release flavour)"
build/release/bin/unit_tests
echo "== make install DESTDIR=$dest PREFIX=/usr"
make install DESTDIR="$dest" PREFIX=/usr
