#!/bin/bash
# bench/calls: server CPU time per authenticated call through pbxd and through
# Kamailio under the same SIPp load in the same run, printed as a ratio; then
# pbxd's memory per active call. Not a test: nothing asserts on timing; it exits
# non-zero only when it cannot run.
#
# One call is what two phones do through their PBX:
#   caller -> INVITE, 407 (digest challenge), ACK, INVITE with Proxy-Authorization
#   server -> INVITE to the callee's registered device, 100/180/200, ACK
#   caller <- 180, 200; ACK; PAUSE_MS of call; BYE, 200 (and the BYE passed on)
# pbxd (a B2BUA) answers the caller itself, INVITEs every registered device of
# the callee and anchors the media: each call takes two RTP/RTCP port pairs of
# --rtp-ports and a relay in the media worker, and both legs' SDP are rewritten
# (no RTP flows here: bench/media measures the relay).
#
# Reference: Kamailio (Debian `kamailio`) with bench/calls/kamailio-calls.cfg, a
# stateful record-routing proxy doing the same digest authentication
# (proxy_authorize against a subscriber table of the same extensions and
# passwords, db_text loaded in memory) and location lookup (usrloc in memory),
# 2 worker processes. It relays signalling only: no media anchor.
#
# Load: SIPp 3.6 as caller (bench/calls/uac.xml) with an injection file of USERS
# callers, each calling its own callee extension; its per-call credentials come
# from `-au [field0] -ap [field1]` (SIPp expands keywords there, not inside
# [authentication username=... password=...]). SIPp as the callees' one device
# (bench/calls/uas.xml), all USERS callee extensions registered from its port
# first (bench/calls/sipreg.py: REGISTER with digest, as a phone does). pbxd gets
# the users through its REST API (bench/calls/bench_users.py, which uses
# bench/register_users.py) with max_simultaneous_calls raised to 100 (the default
# 2 would refuse the memory run's concurrent calls with 486); Kamailio gets a
# subscriber table of the same extensions and passwords.
#
# Figures (the method of ../../shared/bench/README.md):
#   calls/s   calls the caller SIPp started per second over the measured window
#   failed    calls SIPp counted as failed over the whole run (any unexpected
#             answer, a 10 s time-out on a response, ...)
#   cpu/call  server CPU (utime+stime from /proc: all of pbxd's threads; Kamailio
#             summed over its processes) over a WINDOW s window that starts
#             WARMUP s into the run, divided by the calls started in it (read off
#             SIPp's per-second statistics): the steady state, where the cost of
#             calls that end (transactions kept 32 s after their answer, Timer J)
#             is paid within the window as much as it is carried out of it.
#   ratio     pbxd cpu/call over Kamailio's: below 1 means pbxd spends less.
#   memory    a fresh pbxd (same data dir, the devices restored), VmRSS sampled
#             from /proc every 0.2 s while MEM_CALLS calls started at MEM_RATE
#             stay up MEM_PAUSE_MS each: (peak VmRSS - VmRSS before) / calls up
#             at that moment (pbxd's descriptors above the baseline / 4: each
#             call holds two RTP+RTCP socket pairs; the REST API's list of active
#             calls is read after the peak as a check). It includes what a call
#             keeps in its first 32 s: the INVITE transactions (RFC 6026 keeps
#             them after the 2xx) and the 407's nothing (stateless).
#
# Everything runs on 127.0.0.1 inside a private network namespace (the script
# re-executes itself under `unshare --net` and brings lo up). Processes it starts
# are stopped on exit.
#
# usage: bench/calls/run.sh [RATES [WINDOW]]   (default "200", 20 s)
# env:   RATES ("none": the memory figure alone), WINDOW, WARMUP (35 s), PAUSE_MS (1000), USERS (200),
#        MEM_CALLS (1000; 0 skips the memory figure), MEM_RATE (200),
#        MEM_PAUSE_MS (10000), MEM_SETTLE (45 s: VmRSS read again that long after
#        the memory run, once its transactions are gone; 0 skips), MEM_REPEAT
#        (0: that many more batches, VmRSS read after each: a leak check), PBXD (default build-bench/pbxd, built when missing
#        or stale), PBXD_OPTS (more pbxd options), LOG_LEVEL (pbxd's, warn),
#        KEEP (1: keep the work dir with the logs and SIPp's files),
#        PERF (1: profile each server over its window with perf, cpu-clock;
#        the CPU figures of such a run include perf's cost)
set -eu

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/bench/calls
SELF=$HERE/run.sh

# ---------------------------------------------------------------- namespace
if [ "${PBXD_BENCH_NETNS:-}" != 1 ]; then
	export PBXD_BENCH_NETNS=1
	userns=()
	[ "$(id -u)" -eq 0 ] || userns=(--map-root-user)
	exec unshare --net "${userns[@]}" bash -c 'ip link set lo up && exec "$0" "$@"' "$SELF" "$@"
fi

RATES=${1:-${RATES:-200}}
WINDOW=${2:-${WINDOW:-20}}
WARMUP=${WARMUP:-35}
PAUSE_MS=${PAUSE_MS:-1000}
USERS=${USERS:-200}
MEM_CALLS=${MEM_CALLS:-1000}
MEM_RATE=${MEM_RATE:-200}
MEM_PAUSE_MS=${MEM_PAUSE_MS:-10000}
MEM_SETTLE=${MEM_SETTLE:-45}
MEM_REPEAT=${MEM_REPEAT:-0}
LOG_LEVEL=${LOG_LEVEL:-warn}
KAM_PORT=26091
PBX_UDP_PORT=25090
PBX_TCP_PORT=25093
PBX_HTTP_PORT=25081
UAC_PORT=5061
UAS_PBX_PORT=5071
UAS_KAM_PORT=5072
DOMAIN=bench.test
FIRST=1000 # callers FIRST .., callees FIRST+USERS ..
PREFIX=sip-pw-
ADMIN_PW=Bench-admin-1
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)
API=http://127.0.0.1:$PBX_HTTP_PORT/api

die() {
	echo "bench calls: $*" >&2
	exit 1
}

for tool in sipp kamailio bc; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not installed (apt-get install sip-tester kamailio bc)"
done
"$PY" -c 'import requests' 2>/dev/null || die "$PY lacks requests (apt-get install python3-requests)"
[ "$USERS" -ge 1 ] && [ "$USERS" -le 4000 ] || die "USERS must be 1..4000"

BUILD=${BENCH_BUILD_DIR:-$REPO/build-bench}
PBXD_FROM="given: ${PBXD:-}"
if [ -z "${PBXD:-}" ]; then
	PBXD_FROM="work tree at $(git -C "$REPO" log -1 --format=%h 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain -- src 2>/dev/null | grep -q . && echo ', src modified' || true)"
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$REPO" -Dtests=false >/dev/null
	ninja -C "$BUILD" pbxd >/dev/null || die "build failed (ninja -C $BUILD pbxd)"
	PBXD=$BUILD/pbxd
fi
[ -x "$PBXD" ] || die "no pbxd at $PBXD"

WORK=$(mktemp -d /tmp/pbxd-bench-calls.XXXXXX)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench calls: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
# utime+stime in clock ticks of a process (all its threads) and its children.
cpu_ticks() {
	local t=0 pid
	for pid in "$1" $(pgrep -P "$1" || true); do
		if [ -r "/proc/$pid/stat" ]; then
			t=$((t + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
		fi
	done
	echo "$t"
}

# "tid ticks" for each thread of a process, by thread id.
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		[ -r "$t/stat" ] && echo "${t##*/} $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
	done | sort -n
	return 0
}

# thread_split BEFORE AFTER CALLS PID: pbxd's CPU per call by thread. pbxd names
# no thread: the process's own is the signalling thread; the others (storage
# worker, media worker(s), the REST API's) are listed busiest first with their
# thread id (bench/calls/README.md says which was which in a profile).
thread_split() {
	join "$1" "$2" | awk -v calls="$3" -v hz="$HZ" -v pid="$4" '
		{ d = ($3 - $2) * 1000 / hz / calls; if ($1 == pid) sig = d; else if (d > 0) o[$1] = d }
		END { printf "    pbxd by thread: signalling %.3f ms/call; others, busiest first:", sig
			n = 0; for (t in o) n++
			while (n-- > 0) { b = ""; for (t in o) if (b == "" || o[t] > o[b]) b = t
				printf " %.3f (tid %s)", o[b], b; delete o[b] }
			printf "\n" }'
}

# "idle steal" ticks of the whole machine (/proc/stat: idle + iowait, and steal,
# time the hypervisor ran someone else). Busy time is the rest: /proc/stat's
# user and system are sampled at the tick and miss short bursts, idle is
# measured.
machine_ticks() { awk '/^cpu / { print $5 + $6, $9 }' /proc/stat; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
now() { date +%s.%N; }
# sleep_until EPOCH_SECONDS
sleep_until() {
	local d
	d=$(echo "$1 - $(now)" | bc -l)
	[ "$(echo "$d > 0" | bc -l)" = 1 ] && sleep "$d"
	return 0
}

wait_port() {
	local flag=-lun
	[ "$1" = tcp ] && flag=-ltn
	for _ in $(seq 100); do
		ss -H "$flag" "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	echo "bench calls: nothing listening on $1 port $2" >&2
	return 1
}

# stat_at FILE TIME COLUMN: COLUMN of SIPp's periodic statistics interpolated at
# TIME (epoch seconds; CurrentTime's third field is epoch seconds).
stat_at() {
	awk -F';' -v t="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ split($c["CurrentTime"], ct, "\t"); x = ct[3] + 0; y = $c[col] + 0
		  if (x <= t) { x0 = x; y0 = y; have0 = 1 }
		  else if (!have1) { x1 = x; y1 = y; have1 = 1 } }
		END {
			if (have0 && have1 && x1 > x0) printf "%.1f\n", y0 + (y1 - y0) * (t - x0) / (x1 - x0)
			else if (have0) print y0; else if (have1) print y1; else print 0 }' "$1"
}

# stat_last FILE COLUMN: the last value (cumulative columns: the run's total).
stat_last() {
	awk -F';' -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { v = $c[col] } END { print v + 0 }' "$1"
}

# start_uas PORT NAME: SIPp as the callees' registered device.
start_uas() {
	mkdir -p "$WORK/$2"
	(cd "$WORK/$2" && exec sipp -sf "$HERE/uas.xml" -i 127.0.0.1 -p "$1" -mp $((30000 + $1)) \
		-nostdin -trace_err </dev/null >sipp.out 2>&1) &
	PIDS+=("$!")
	wait_port udp "$1" || die "SIPp UAS on $1 did not start: $(tail -3 "$WORK/$2/sipp.out")"
}

# run_uac DIR SERVER_PORT RATE COUNT PAUSE_MS: the caller SIPp, in the background;
# sets UAC_PID. Its statistics go to DIR/stat.csv every second.
run_uac() {
	local dir=$1 limit=$(($3 * ($5 / 1000 + 3) * 2 + 200))
	mkdir -p "$dir"
	local secs=$(($4 / $3 + $5 / 1000 + 60))
	(cd "$dir" && exec timeout -k 5 $((secs + 30)) sipp -sf "$HERE/uac.xml" -inf "$WORK/callers.csv" \
		-au '[field0]' -ap '[field1]' -i 127.0.0.1 -p $UAC_PORT -mp 41200 \
		-r "$3" -m "$4" -l "$limit" -d "$5" -recv_timeout 10000 -timeout "${secs}s" \
		-trace_err -trace_stat -stf stat.csv -fd 1 -nostdin "127.0.0.1:$2" </dev/null >sipp.out 2>&1) &
	UAC_PID=$!
}

# rt_of STATFILE NAME: SIPp's response-time buckets of NAME (cumulative, last row)
# as "n<5ms n<20ms n>=100ms total".
rt_of() {
	awk -F';' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { l = $0 }
		END { split(l, v, ";"); p = "ResponseTimeRepartition" n "_"
			a = v[c[p "<2"]] + v[c[p "<5"]]; b = a + v[c[p "<10"]] + v[c[p "<20"]]
			d = v[c[p "<200"]] + v[c[p "<500"]] + v[c[p ">=500"]]
			t = b + v[c[p "<50"]] + v[c[p "<100"]] + d
			print a + 0, b + 0, d + 0, t + 0 }' "$1"
}

# errors_of DIR: SIPp's error log, summarised (first lines of each kind).
errors_of() {
	local f
	f=$(find "$1" -name '*_errors.log' | head -1)
	[ -n "$f" ] && [ -s "$f" ] || return 0
	local n
	n=$(grep -c 'Aborting\|Dead call\|failed\|Failed' "$f" || true)
	[ "$n" -gt 0 ] || return 0
	echo "    SIPp errors ($n lines; first ones):"
	grep -m 5 'Aborting\|Dead call\|failed\|Failed\|error' "$f" | cut -c1-220 | sed 's/^/      /'
}

# measure NAME PID PORT RATE: one run; prints a row, sets RESULT_US, RESULT_FAILED.
measure() {
	local name=$1 pid=$2 port=$3 rate=$4
	local dir=$WORK/run-$name-$rate
	local count=$((rate * (WARMUP + WINDOW + 3)))
	run_uac "$dir" "$port" "$rate" "$count" "$PAUSE_MS"
	local t0 ta tb ca cb
	t0=$(now)
	sleep_until "$(echo "$t0 + $WARMUP" | bc -l)"
	ta=$(now)
	ca=$(cpu_ticks "$pid")
	local ma mb
	ma=$(machine_ticks)
	[ "$name" = pbxd ] && thread_ticks "$pid" >"$dir/threads-a"
	if [ "${PERF:-0}" = 1 ]; then
		# a profile of the window (it costs the server CPU too: the figure of a
		# PERF=1 run is not clean)
		perf record -q -e cpu-clock -F 999 -g -p "$(echo "$pid" $(pgrep -P "$pid") | tr ' ' ,)" \
			-o "$dir/perf.data" -- sleep "$WINDOW" \
			>"$dir/perf.out" 2>&1 || true
	fi
	sleep_until "$(echo "$ta + $WINDOW" | bc -l)"
	tb=$(now)
	cb=$(cpu_ticks "$pid")
	mb=$(machine_ticks)
	[ "$name" = pbxd ] && thread_ticks "$pid" >"$dir/threads-b"
	wait "$UAC_PID" || true
	kill -0 "$pid" 2>/dev/null || die "$name exited during the run"
	[ -s "$dir/stat.csv" ] || die "SIPp wrote no statistics: $(tail -5 "$dir/sipp.out")"
	local na nb calls ok failed retr
	na=$(stat_at "$dir/stat.csv" "$ta" 'OutgoingCall(C)')
	nb=$(stat_at "$dir/stat.csv" "$tb" 'OutgoingCall(C)')
	calls=$(echo "$nb - $na" | bc -l)
	ok=$(stat_last "$dir/stat.csv" 'SuccessfulCall(C)')
	failed=$(stat_last "$dir/stat.csv" 'FailedCall(C)')
	retr=$(stat_last "$dir/stat.csv" 'Retransmissions(C)')
	local ticks=$((cb - ca)) secs
	secs=$(echo "$tb - $ta" | bc -l)
	RESULT_US=$(echo "if ($calls > 0) $ticks * 1000000 / $HZ / $calls else 0" | bc -l)
	RESULT_FAILED=$failed
	RESULT_CPS=$(echo "$calls / $secs" | bc -l)
	printf '  %-8s %4s/s offered: %6.1f calls/s in the window, %d of %d calls ok, %d failed, %d retransmissions; cpu %.3f ms/call (%.2f cores, %d ticks in %.1f s)\n' \
		"$name" "$rate" "$RESULT_CPS" "$ok" "$count" "$failed" "$retr" "$(echo "$RESULT_US / 1000" | bc -l)" \
		"$(echo "$ticks / $HZ / $secs" | bc -l)" "$ticks" "$secs"
	printf '    machine: %.2f of %d cores busy in the window (this run, SIPp and anything else; steal %.2f)\n' \
		"$(echo "$(nproc) - (${mb% *} - ${ma% *}) / $HZ / $secs" | bc -l)" "$(nproc)" "$(echo "(${mb#* } - ${ma#* }) / $HZ / $secs" | bc -l)"
	local i5 i20 i100 it b5 b20 b100 bt
	read -r i5 i20 i100 it < <(rt_of "$dir/stat.csv" invite)
	read -r b5 b20 b100 bt < <(rt_of "$dir/stat.csv" bye)
	if [ "$it" -gt 0 ] && [ "$bt" -gt 0 ]; then
		printf '    response times over the run: INVITE with credentials -> 200 (through the callee): %.1f%% < 5 ms, %.1f%% < 20 ms, %d >= 100 ms; BYE -> 200: %.1f%% < 5 ms, %.1f%% < 20 ms, %d >= 100 ms\n' \
			"$(echo "100 * $i5 / $it" | bc -l)" "$(echo "100 * $i20 / $it" | bc -l)" "$i100" \
			"$(echo "100 * $b5 / $bt" | bc -l)" "$(echo "100 * $b20 / $bt" | bc -l)" "$b100"
	fi
	[ "$name" = pbxd ] && [ "$(echo "$calls > 0" | bc -l)" = 1 ] && thread_split "$dir/threads-a" "$dir/threads-b" "$calls" "$pid"
	errors_of "$dir"
	if [ -s "$dir/perf.data" ]; then
		echo "    profile of $name (perf, cpu-clock; self time, top 25):"
		perf report -i "$dir/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep '%' | head -25 | cut -c1-150 | sed 's/^/      /'
	fi
	return 0
}

# ---------------------------------------------------------------- servers
PBXD_EXTRA=()
HELP=$("$PBXD" --help 2>&1 || true)
# All the load comes from one address: the per-source limits against floods
# would drop or throttle it.
grep -q -- '--trusted-addresses' <<<"$HELP" && PBXD_EXTRA+=(--trusted-addresses=127.0.0.0/8)
grep -q -- '--sip-source-rate' <<<"$HELP" && PBXD_EXTRA+=(--sip-source-rate=0)
grep -q -- '--sip-stateless-rate' <<<"$HELP" && PBXD_EXTRA+=(--sip-stateless-rate=0)
grep -q -- '--register-rate' <<<"$HELP" && PBXD_EXTRA+=(--register-rate=0)
grep -q -- '--rtp-ports' <<<"$HELP" && PBXD_EXTRA+=(--rtp-ports=20000-39999)
# shellcheck disable=SC2206
[ -n "${PBXD_OPTS:-}" ] && PBXD_EXTRA+=($PBXD_OPTS)

PBXD_PID=
start_pbxd() {
	printf '%s\n' "$ADMIN_PW" >"$WORK/admin-pw"
	"$PBXD" --data-dir="$WORK/pbxd-data" --sip-address=127.0.0.1 --sip-udp-port=$PBX_UDP_PORT \
		--sip-tcp-port=$PBX_TCP_PORT --sip-tls-port=0 --sip-wss-port=0 --log-level="$LOG_LEVEL" --http-tls=off --http-address=127.0.0.1 \
		--http-port=$PBX_HTTP_PORT --admin-password-file="$WORK/admin-pw" "${PBXD_EXTRA[@]}" \
		>>"$WORK/pbxd.log" 2>&1 &
	PBXD_PID=$!
	PIDS+=("$PBXD_PID")
	if ! wait_port udp $PBX_UDP_PORT || ! wait_port tcp $PBX_HTTP_PORT; then
		tail -5 "$WORK/pbxd.log" >&2
		exit 1
	fi
}

stop_pbxd() {
	kill -TERM "$PBXD_PID"
	local st=0
	wait "$PBXD_PID" || st=$?
	[ "$st" = 0 ] || echo "bench calls: pbxd exited with status $st when stopped" >&2
}

mkdir -p "$WORK/pbxd-data" "$WORK/kam/db"
start_pbxd
NUSERS=$((2 * USERS))
"$PY" "$HERE/bench_users.py" create "$API" "$ADMIN_PW" $DOMAIN $PREFIX 100 "$FIRST:$NUSERS" >"$WORK/users.out" 2>&1 ||
	die "creating the users through the API failed: $(tail -3 "$WORK/users.out")"
"$PY" "$REPO/bench/register_users.py" dbtext "$WORK/kam/db" $DOMAIN $FIRST $NUSERS $PREFIX
kamailio -DD -E -f "$HERE/kamailio-calls.cfg" -w "$WORK/kam" -Y "$WORK/kam" -m 512 \
	-A "DBURL=\"text://$WORK/kam/db\"" -A "LISTEN=udp:127.0.0.1:$KAM_PORT" >"$WORK/kam.log" 2>&1 &
KAM_PID=$!
PIDS+=("$KAM_PID")
wait_port udp "$KAM_PORT" || { tail -5 "$WORK/kam.log" >&2; exit 1; }

# the callees' device: registered from the UAS ports, then SIPp takes the ports
"$PY" "$HERE/sipreg.py" 127.0.0.1:$PBX_UDP_PORT 127.0.0.1:$UAS_PBX_PORT $DOMAIN $((FIRST + USERS)) "$USERS" $PREFIX \
	>"$WORK/reg-pbxd.out" 2>&1 || die "registering the callees with pbxd failed: $(tail -3 "$WORK/reg-pbxd.out")"
"$PY" "$HERE/sipreg.py" 127.0.0.1:$KAM_PORT 127.0.0.1:$UAS_KAM_PORT $DOMAIN $((FIRST + USERS)) "$USERS" $PREFIX \
	>"$WORK/reg-kam.out" 2>&1 || die "registering the callees with Kamailio failed: $(tail -3 "$WORK/reg-kam.out")"
start_uas $UAS_PBX_PORT uas-pbxd
start_uas $UAS_KAM_PORT uas-kam
{
	echo SEQUENTIAL
	for i in $(seq 0 $((USERS - 1))); do
		echo "$((FIRST + i));$PREFIX$((FIRST + i));$((FIRST + USERS + i));$DOMAIN"
	done
} >"$WORK/callers.csv"

echo "bench calls: $("$PBXD" --version 2>/dev/null | head -1 || echo pbxd) ($PBXD_FROM), $(kamailio -v 2>&1 | head -1 | sed 's/version: //'), SIPp $(sipp -v 2>&1 | grep -o 'v[0-9][0-9.]*' | head -1), $(nproc) CPUs"
echo "  pbxd: $(cat "$WORK/users.out" | tr '\n' ' ')callees $(tail -1 "$WORK/reg-pbxd.out"); options ${PBXD_EXTRA[*]} --log-level=$LOG_LEVEL"
echo "  kamailio: kamailio-calls.cfg, auth_db over db_text, usrloc db_mode 0, 2 workers; callees $(tail -1 "$WORK/reg-kam.out")"
echo "  load: $USERS callers each calling its own callee (extensions $FIRST..$((FIRST + NUSERS - 1))), calls of ${PAUSE_MS} ms; cpu over ${WINDOW} s from ${WARMUP} s into each run"

SUMMARY=()
[ "$RATES" = none ] && RATES=
for rate in $RATES; do
	measure pbxd "$PBXD_PID" $PBX_UDP_PORT "$rate"
	p_us=$RESULT_US p_failed=$RESULT_FAILED p_cps=$RESULT_CPS
	measure kamailio "$KAM_PID" "$KAM_PORT" "$rate"
	k_us=$RESULT_US k_failed=$RESULT_FAILED k_cps=$RESULT_CPS
	ratio=$(echo "if ($k_us > 0) $p_us / $k_us else 0" | bc -l)
	SUMMARY+=("$(printf 'calls %s/s: pbxd %.3f ms/call (%.1f calls/s, %d failed), kamailio %.3f ms/call (%.1f calls/s, %d failed), ratio %.2f' \
		"$rate" "$(echo "$p_us / 1000" | bc -l)" "$p_cps" "$p_failed" "$(echo "$k_us / 1000" | bc -l)" "$k_cps" "$k_failed" "$ratio")")
done
kill -TERM "$KAM_PID" 2>/dev/null || true

# ---------------------------------------------------------------- memory
if [ "$MEM_CALLS" -gt 0 ]; then
	stop_pbxd
	start_pbxd
	# the one sign-in of the run (Argon2id: 19 MiB that stay in the HTTP thread's
	# malloc arena), before the baseline; the API is read with its token after
	TOKEN=$WORK/tenant-token
	rm -f "$TOKEN"
	"$PY" "$HERE/bench_users.py" calls "$API" "$ADMIN_PW" $DOMAIN "$TOKEN" >/dev/null ||
		die "the REST API did not answer after the restart"
	sleep 2
	rss0=$(rss_kb "$PBXD_PID") fd0=$(nfds "$PBXD_PID")
	dir=$WORK/mem
	run_uac "$dir" $PBX_UDP_PORT "$MEM_RATE" "$MEM_CALLS" "$MEM_PAUSE_MS"
	# The peak: most descriptors (calls up), then most VmRSS among those
	# samples. Once every call is up and VmRSS has been read twice, the REST
	# API's count of active calls is read once, and the samples stop counting
	# (the API's own threads allocate, if little with the token).
	peak=$rss0 peak_fds=$fd0 peak_t=0 t0=$(now) full=0 api_calls=
	while kill -0 "$UAC_PID" 2>/dev/null; do
		r=$(rss_kb "$PBXD_PID") f=$(nfds "$PBXD_PID")
		if [ -z "$api_calls" ]; then
			if [ "$f" -gt "$peak_fds" ] || { [ "$f" -eq "$peak_fds" ] && [ "$r" -gt "$peak" ]; }; then
				peak=$r peak_fds=$f peak_t=$(echo "$(now) - $t0" | bc -l)
			fi
			[ "$f" -ge $((fd0 + 4 * MEM_CALLS)) ] && full=$((full + 1))
			if [ "$full" -ge 3 ]; then
				api_calls=$("$PY" "$HERE/bench_users.py" calls "$API" "$ADMIN_PW" $DOMAIN "$TOKEN" 2>/dev/null || echo '?')
			fi
		fi
		sleep 0.2
	done
	wait "$UAC_PID" || true
	up=$(((peak_fds - fd0) / 4))
	mfailed=$(stat_last "$dir/stat.csv" 'FailedCall(C)')
	mok=$(stat_last "$dir/stat.csv" 'SuccessfulCall(C)')
	printf '  memory: %d calls at %d/s lasting %d ms (fresh pbxd): %d ok, %d failed; VmRSS %d KiB before, %d KiB at the peak (%.1f s in) with %d calls up (descriptors %d -> %d)%s\n' \
		"$MEM_CALLS" "$MEM_RATE" "$MEM_PAUSE_MS" "$mok" "$mfailed" "$rss0" "$peak" "$peak_t" "$up" "$fd0" "$peak_fds" \
		"${api_calls:+; active calls per the REST API then: $api_calls}"
	errors_of "$dir"
	if [ "$MEM_SETTLE" -gt 0 ]; then
		# the calls' transactions end 32 s after their last answer; then pbxd
		# should hand most of their memory back (malloc_trim after many ended)
		sleep "$MEM_SETTLE"
		printf '    %d s after the last call ended: VmRSS %d KiB, descriptors %d, active calls per the REST API %s\n' \
			"$MEM_SETTLE" "$(rss_kb "$PBXD_PID")" "$(nfds "$PBXD_PID")" \
			"$("$PY" "$HERE/bench_users.py" calls "$API" "$ADMIN_PW" $DOMAIN "$TOKEN" 2>/dev/null || echo '?')"
		# a leak check: the same batch again; once the first batch's memory is
		# there to be reused, VmRSS after each should stay where it was
		for rep in $(seq "$MEM_REPEAT"); do
			run_uac "$WORK/mem-$rep" $PBX_UDP_PORT "$MEM_RATE" "$MEM_CALLS" "$MEM_PAUSE_MS"
			wait "$UAC_PID" || true
			sleep "$MEM_SETTLE"
			printf '    batch %d again: %d ok, %d failed; %d s later VmRSS %d KiB, descriptors %d\n' "$((rep + 1))" \
				"$(stat_last "$WORK/mem-$rep/stat.csv" 'SuccessfulCall(C)')" \
				"$(stat_last "$WORK/mem-$rep/stat.csv" 'FailedCall(C)')" "$MEM_SETTLE" \
				"$(rss_kb "$PBXD_PID")" "$(nfds "$PBXD_PID")"
		done
	fi
	if [ "$up" -gt 0 ]; then
		SUMMARY+=("$(printf 'memory: %.1f KiB per active call (%d calls up, VmRSS +%d KiB; %d failed)' \
			"$(echo "($peak - $rss0) / $up" | bc -l)" "$up" $((peak - rss0)) "$mfailed")")
	else
		SUMMARY+=("memory: no call was up ($mfailed failed)")
	fi
fi

nwarn=$(grep -c ' warn \| error ' "$WORK/pbxd.log" || true)
if [ "$nwarn" -gt 0 ]; then
	echo "  pbxd logged $nwarn warnings/errors; the first and last:"
	grep ' warn \| error ' "$WORK/pbxd.log" | head -5 | cut -c1-220 | sed 's/^/    /'
	grep ' warn \| error ' "$WORK/pbxd.log" | tail -3 | cut -c1-220 | sed 's/^/    /'
fi
for line in "${SUMMARY[@]}"; do
	echo "$line"
done
