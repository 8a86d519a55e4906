#!/bin/sh
# deps.sh - install the Debian packages txscope builds, tests and demos with, when missing.
#   deps.sh [MORE_PACKAGES...]    e.g. bench/compare adds pgbouncer and gnuplot-nox
set -eu
PKGS="build-essential pkg-config libuv1-dev libpq-dev libcjson-dev libinih-dev uthash-dev \
libedit-dev check libsubunit-dev postgresql-15 postgresql-client-15 procps \
bsdutils default-libmysqlclient-dev mariadb-server mariadb-client libhttp-parser-dev python3-yaml \
python3-pip python3-setuptools \
prometheus curl $*"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The server package must not start a system cluster of its own.
mkdir -p /etc/postgresql-common
grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
# Nor may the MariaDB package start a system server: tests start their own. policy-rc.d
# tells invoke-rc.d not to start services while we install.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy && own_policy=1
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ -z "$own_policy" ] || rm -f $policy
