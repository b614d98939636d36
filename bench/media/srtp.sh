#!/bin/bash
# bench/media/srtp.sh: what a browser's leg costs pbxd's media worker against a
# plain leg, in the same run (bench/media/srtp.c says how): CPU per relayed
# packet with SRTP on one side and without, their difference (issue 14's target:
# at most 1 us per packet) and ratio, and CPU per call set-up with ICE and DTLS
# (target: at most 5 ms). Not a test: nothing asserts on the figures.
#
# usage: bench/media/srtp.sh [CALLS [SECONDS]]   (default 200 calls, 10 s per phase)
# env:   BENCH_BUILD_DIR (default build-bench, a release build made when missing)
set -eu
REPO=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${PBXD_BENCH_NETNS:-}" != 1 ]; then
	export PBXD_BENCH_NETNS=1
	userns=()
	[ "$(id -u)" -eq 0 ] || userns=(--map-root-user)
	exec unshare --net "${userns[@]}" bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi
BUILD=${BENCH_BUILD_DIR:-$REPO/build-bench}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$REPO" -Dtests=false -Dbuildtype=release >/dev/null
ninja -C "$BUILD" bench/srtp >/dev/null
echo "bench/media/srtp: pbxd $(git -C "$REPO" log -1 --format=%h 2>/dev/null || echo '?'), $(nproc) cores"
exec "$BUILD/bench/srtp" "${1:-200}" "${2:-10}"
