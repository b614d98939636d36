#!/bin/sh
# Installs every Debian package that building and testing pbxd needs.
# Idempotent and fast when everything is present: it asks dpkg first and only
# touches apt (update + install) when something is missing.
# To add a dependency, add it to PACKAGES below and nowhere else. (The web
# portal's npm packages are web/package-lock.json's, installed by
# tools/build-web.sh; Node.js and npm come with the machine, and chromium, for
# the portal's browser tests, is installed without them.)
set -eu

PACKAGES="
meson
ninja-build
pkg-config
gcc
clang
libclang-rt-14-dev
libcmocka-dev
tzdata
libssl-dev
libsqlite3-dev
libjansson-dev
libmicrohttpd-dev
libgnutls28-dev
libargon2-dev
libcurl4-openssl-dev
libsrtp2-dev
libopus-dev
liburing-dev
sip-tester
kamailio
baresip
sipvicious
python3-pytest
python3-requests
iproute2
iptables
util-linux
curl
ca-certificates
openssl
chromium
"

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*" ok installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
