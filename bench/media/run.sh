#!/bin/bash
# bench/media: CALLS two-way G.711 calls relayed by pbxd's media worker and by
# rtpengine under the same RTP load in the same run, printed as a ratio of
# server CPU per relayed packet, with the loss of each. Not a test: nothing
# asserts on timing; it exits non-zero only when it cannot run.
#
# pbxd: the calls are made through SIP, as phones make them: SIPp callers
# (bench/media/uac.xml: INVITE, 407, INVITE with digest credentials, 200, ACK)
# to USERS callee extensions registered from one SIPp callee's port
# (bench/media/uas.xml), set up at SETUP_RATE calls/s and kept up until the
# measurement is over; then hung up (BYE) and counted. pbxd gives each call two
# RTP/RTCP port pairs of --rtp-ports and rewrites both SDPs; the ports are read
# off what SIPp received (the 200's SDP for the caller's side, the INVITE's for
# the callee's, paired by pbxd's X-Session-Id).
#
# rtpengine (Debian `rtpengine-daemon`, userspace forwarding: --table=-1,
# RTPENGINE_THREADS threads): the same number of calls through its ng protocol
# (bench/media/rtpengine_calls.py: offer with the caller's SDP, answer with the
# callee's), as ../../shared/bench/media_anchor.py drives it.
#
# Both get the same streams from bench/media/rtpgen.c: every call's caller
# sends from 127.0.0.1:40000 and its callee from 127.0.0.1:40002 (the addresses
# both SDPs name), 50 packets/s each way (172-byte RTP: 160 bytes of PCMU), the
# streams' instants spread evenly over each 20 ms; what the relay sends back is
# counted per stream (SSRC). First WARMUP s of it (latching), then the measured
# SECONDS.
#
# Figures (the method of ../../shared/bench/README.md):
#   loss      packets sent by rtpgen that never came back within 0.5 s after the
#             end, over packets sent (target under 0.01%)
#   cpu/pkt   server CPU (utime+stime from /proc: all of pbxd's threads;
#             rtpengine's process) over the measured rtpgen run, divided by the
#             packets relayed (that came back)
#   ratio     pbxd cpu/pkt over rtpengine's: below 1 means pbxd spends less
#
# Everything runs on 127.0.0.1 inside a private network namespace (the script
# re-executes itself under `unshare --net` and brings lo up). Processes it starts
# are stopped on exit. rtpgen, pbxd's media worker and rtpengine share the
# machine's cores: read the figures of one run together.
#
# usage: bench/media/run.sh [CALLS [DURATION]]   (default 1000 calls, 10 s)
# env:   CALLS, DURATION, WARMUP (2 s), ROUNDS (3), SETUP_RATE (100 calls/s), USERS (200),
#        RTPENGINE_THREADS (2), MEDIA_THREADS (pbxd's --media-threads, 1), PBXD (default build-bench/pbxd, built when
#        missing or stale), PBXD_OPTS, LOG_LEVEL (pbxd's, warn), KEEP (1: keep
#        the work dir), SKIP_RTPENGINE (1: pbxd alone), PERF (1: a perf profile
#        of each server's first measured run, whose figure then includes perf)
set -eu

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/bench/media
SELF=$HERE/run.sh

# ---------------------------------------------------------------- namespace
if [ "${PBXD_BENCH_NETNS:-}" != 1 ]; then
	export PBXD_BENCH_NETNS=1
	userns=()
	[ "$(id -u)" -eq 0 ] || userns=(--map-root-user)
	exec unshare --net "${userns[@]}" bash -c 'ip link set lo up && exec "$0" "$@"' "$SELF" "$@"
fi

CALLS=${1:-${CALLS:-1000}}
SECONDS_RUN=${2:-${DURATION:-10}}
WARMUP=${WARMUP:-2}
SETUP_RATE=${SETUP_RATE:-100}
ROUNDS=${ROUNDS:-3}
USERS=${USERS:-200}
RTPENGINE_THREADS=${RTPENGINE_THREADS:-2}
LOG_LEVEL=${LOG_LEVEL:-warn}
PBX_UDP_PORT=25190
PBX_TCP_PORT=25193
PBX_HTTP_PORT=25181
NG_PORT=2223
UAC_PORT=5161
UAS_PORT=5171
DOMAIN=bench.test
FIRST=1000 # callers FIRST .., callees FIRST+USERS ..
PREFIX=sip-pw-
ADMIN_PW=Bench-admin-1
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)
API=http://127.0.0.1:$PBX_HTTP_PORT/api

die() {
	echo "bench media: $*" >&2
	exit 1
}

for tool in sipp bc; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not installed (apt-get install sip-tester bc)"
done
[ "${SKIP_RTPENGINE:-0}" = 1 ] || command -v rtpengine >/dev/null 2>&1 ||
	die "rtpengine not installed (apt-get install rtpengine-daemon)"
"$PY" -c 'import requests' 2>/dev/null || die "$PY lacks requests (apt-get install python3-requests)"
# every callee extension takes at most 100 calls (max_simultaneous_calls' maximum)
[ $((USERS * 100)) -ge "$CALLS" ] || die "USERS=$USERS cannot hold $CALLS calls (100 each at most)"

BUILD=${BENCH_BUILD_DIR:-$REPO/build-bench}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$REPO" -Dtests=false >/dev/null
PBXD_FROM="given: ${PBXD:-}"
if [ -z "${PBXD:-}" ]; then
	PBXD_FROM="work tree at $(git -C "$REPO" log -1 --format=%h 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain -- src 2>/dev/null | grep -q . && echo ', src modified' || true)"
	ninja -C "$BUILD" pbxd bench/rtpgen >/dev/null || die "build failed (ninja -C $BUILD pbxd bench/rtpgen)"
	PBXD=$BUILD/pbxd
else
	ninja -C "$BUILD" bench/rtpgen >/dev/null || die "build failed (ninja -C $BUILD bench/rtpgen)"
fi
RTPGEN=$BUILD/bench/rtpgen
[ -x "$PBXD" ] || die "no pbxd at $PBXD"

WORK=$(mktemp -d /tmp/pbxd-bench-media.XXXXXX)
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
		echo "bench media: work dir kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
cpu_ticks() {
	local t=0 pid
	for pid in "$1" $(pgrep -P "$1" || true); do
		if [ -r "/proc/$pid/stat" ]; then
			t=$((t + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
		fi
	done
	echo "$t"
}

# "tid ticks" for each thread of a process; pbxd's threads in creation order
# (src/main.c): signalling, storage worker, media worker, then HTTP.
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		[ -r "$t/stat" ] && echo "${t##*/} $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
	done | sort -n
	return 0
}

nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

wait_port() {
	local flag=-lun
	[ "$1" = tcp ] && flag=-ltn
	for _ in $(seq 100); do
		ss -H "$flag" "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	echo "bench media: nothing listening on $1 port $2" >&2
	return 1
}

# "idle steal" ticks of the whole machine (/proc/stat: idle + iowait, and steal,
# time the hypervisor ran someone else). Busy time is the rest: /proc/stat's
# user and system are sampled at the tick and miss short bursts, idle is
# measured.
machine_ticks() { awk '/^cpu / { print $5 + $6, $9 }' /proc/stat; }

result_of() { # FILE KEY
	awk -v k="$2" '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$1"
}

# relay NAME PID PAIRS: warm-up, then the measured rtpgen run; prints a row and
# adds to the totals of NAME.
declare -A TOT_TICKS TOT_GOT TOT_SENT TOT_LOST
relay() {
	local name=$1 pid=$2 pairs=$3
	"$RTPGEN" -t "$WARMUP" "$pairs" >"$WORK/$name-warmup.out" 2>&1 || die "rtpgen: $(cat "$WORK/$name-warmup.out")"
	grep -q 'lost=0 ' "$WORK/$name-warmup.out" ||
		echo "    warm-up: $(grep -o 'lost=[0-9]* loss_pct=[0-9.]*' "$WORK/$name-warmup.out")"
	local c0 c1
	thread_ticks "$pid" >"$WORK/$name-threads-a"
	local m0 m1 w0 w1
	w0=$(date +%s.%N)
	m0=$(machine_ticks)
	c0=$(cpu_ticks "$pid")
	local prof=
	if [ "${PERF:-0}" = 1 ] && [ ! -e "$WORK/perf-$name.data" ]; then
		# a profile of the first measured run (perf's cost is in that run's figure)
		perf record -q -e cpu-clock -F 999 -g -p "$(echo "$pid" $(pgrep -P "$pid") | tr ' ' ,)" \
			-o "$WORK/perf-$name.data" >"$WORK/perf-$name.out" 2>&1 &
		prof=$!
	fi
	"$RTPGEN" -t "$SECONDS_RUN" "$pairs" >"$WORK/$name.out" 2>&1 || die "rtpgen: $(cat "$WORK/$name.out")"
	if [ -n "$prof" ]; then
		kill -INT "$prof" 2>/dev/null || true
		wait "$prof" || true
	fi
	c1=$(cpu_ticks "$pid")
	m1=$(machine_ticks)
	w1=$(date +%s.%N)
	thread_ticks "$pid" >"$WORK/$name-threads-b"
	kill -0 "$pid" 2>/dev/null || die "$name exited during the run"
	local sent got lost pct swl msl late secs ticks
	sent=$(result_of "$WORK/$name.out" sent) got=$(result_of "$WORK/$name.out" received)
	lost=$(result_of "$WORK/$name.out" lost) pct=$(result_of "$WORK/$name.out" loss_pct)
	swl=$(result_of "$WORK/$name.out" streams_with_loss) msl=$(result_of "$WORK/$name.out" max_stream_loss)
	late=$(result_of "$WORK/$name.out" late_ms) secs=$(result_of "$WORK/$name.out" elapsed)
	[ -n "$sent" ] || die "rtpgen printed no result: $(cat "$WORK/$name.out")"
	ticks=$((c1 - c0))
	RESULT_US=$(echo "if ($got > 0) $ticks * 1000000 / $HZ / $got else 0" | bc -l)
	TOT_TICKS[$name]=$((${TOT_TICKS[$name]:-0} + ticks))
	TOT_GOT[$name]=$((${TOT_GOT[$name]:-0} + got))
	TOT_SENT[$name]=$((${TOT_SENT[$name]:-0} + sent))
	TOT_LOST[$name]=$((${TOT_LOST[$name]:-0} + lost))
	printf '  %-9s %d calls: %d packets sent (%.0f/s), %d relayed, %d lost (%s%%; %d of %d streams lost some, at most %d), sender at most %s ms late; cpu %.2f us/packet (%.2f cores, %d ticks)\n' \
		"$name" "$(result_of "$WORK/$name.out" calls)" "$sent" "$(echo "$sent / $secs" | bc -l)" "$got" "$lost" "$pct" \
		"$swl" "$(result_of "$WORK/$name.out" streams)" "$msl" "$late" "$RESULT_US" "$(echo "$ticks / $HZ / $secs" | bc -l)" "$ticks"
	grep -v '^RESULT\|^calls ' "$WORK/$name.out" | sed 's/^/    /' || true
	printf '    machine: %.2f of %d cores busy during the run (steal %.2f)\n' \
		"$(echo "$(nproc) - (${m1% *} - ${m0% *}) / $HZ / ($w1 - $w0)" | bc -l)" "$(nproc)" \
		"$(echo "(${m1#* } - ${m0#* }) / $HZ / ($w1 - $w0)" | bc -l)"
	if [ -n "$prof" ] && [ -s "$WORK/perf-$name.data" ]; then
		echo "    profile of $name (perf, cpu-clock; self time, top 25):"
		perf report -i "$WORK/perf-$name.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
			grep -v '^#' | grep '%' | head -25 | cut -c1-150 | sed 's/^/      /'
	fi
	if [ "$name" = pbxd ]; then
		# pbxd names no thread: the process's own is the signalling thread, the
		# busiest of the others here is the media worker (one by default)
		join "$WORK/$name-threads-a" "$WORK/$name-threads-b" | awk -v pid="$pid" -v got="$got" -v hz="$HZ" '
			{ d = $3 - $2; if ($1 == pid) sig = d; else print d }
			END { if (got > 0) printf "signalling %.2f\n", sig * 1e6 / hz / got }' |
			sort -k1,1 -rn | awk -v got="$got" -v hz="$HZ" '
			/^signalling/ { s = $0; next }
			{ n++; if (n == 1) m = $1 * 1e6 / hz / got; else o += $1 }
			END { printf "    pbxd by thread: media worker (the busiest other thread) %.2f, %s, all others %.2f us/packet\n",
				m, s, o * 1e6 / hz / got }'
	fi
}

# ---------------------------------------------------------------- pbxd
PBXD_EXTRA=()
HELP=$("$PBXD" --help 2>&1 || true)
grep -q -- '--trusted-addresses' <<<"$HELP" && PBXD_EXTRA+=(--trusted-addresses=127.0.0.0/8)
grep -q -- '--sip-source-rate' <<<"$HELP" && PBXD_EXTRA+=(--sip-source-rate=0)
grep -q -- '--sip-stateless-rate' <<<"$HELP" && PBXD_EXTRA+=(--sip-stateless-rate=0)
grep -q -- '--register-rate' <<<"$HELP" && PBXD_EXTRA+=(--register-rate=0)
grep -q -- '--rtp-ports' <<<"$HELP" || die "this pbxd has no --rtp-ports (no media engine)"
PBXD_EXTRA+=(--rtp-ports=20000-29999)
MEDIA_THREADS=${MEDIA_THREADS:-1}
if [ "$MEDIA_THREADS" != 1 ]; then
	grep -q -- '--media-threads' <<<"$HELP" || die "this pbxd has no --media-threads"
	PBXD_EXTRA+=(--media-threads="$MEDIA_THREADS")
fi
# shellcheck disable=SC2206
[ -n "${PBXD_OPTS:-}" ] && PBXD_EXTRA+=($PBXD_OPTS)

mkdir -p "$WORK/pbxd-data" "$WORK/uac" "$WORK/uas"
printf '%s\n' "$ADMIN_PW" >"$WORK/admin-pw"
"$PBXD" --data-dir="$WORK/pbxd-data" --sip-address=127.0.0.1 --sip-udp-port=$PBX_UDP_PORT \
	--sip-tcp-port=$PBX_TCP_PORT --sip-tls-port=0 --sip-wss-port=0 --log-level="$LOG_LEVEL" --http-tls=off --http-address=127.0.0.1 \
	--http-port=$PBX_HTTP_PORT --admin-password-file="$WORK/admin-pw" "${PBXD_EXTRA[@]}" \
	>"$WORK/pbxd.log" 2>&1 &
PBXD_PID=$!
PIDS+=("$PBXD_PID")
wait_port udp $PBX_UDP_PORT && wait_port tcp $PBX_HTTP_PORT || { tail -5 "$WORK/pbxd.log" >&2; exit 1; }

"$PY" "$REPO/bench/calls/bench_users.py" create "$API" "$ADMIN_PW" $DOMAIN $PREFIX 100 "$FIRST:$((2 * USERS))" \
	>"$WORK/users.out" 2>&1 || die "creating the users through the API failed: $(tail -3 "$WORK/users.out")"
"$PY" "$REPO/bench/calls/sipreg.py" 127.0.0.1:$PBX_UDP_PORT 127.0.0.1:$UAS_PORT $DOMAIN $((FIRST + USERS)) "$USERS" \
	$PREFIX >"$WORK/reg.out" 2>&1 || die "registering the callees failed: $(tail -3 "$WORK/reg.out")"
{
	echo SEQUENTIAL
	for i in $(seq 0 $((USERS - 1))); do
		echo "$((FIRST + i));$PREFIX$((FIRST + i));$((FIRST + USERS + i));$DOMAIN"
	done
} >"$WORK/callers.csv"

echo "bench media: $("$PBXD" --version 2>/dev/null | head -1 || echo pbxd) ($PBXD_FROM), $(rtpengine --version 2>&1 | head -1), $(nproc) CPUs"
echo "  pbxd options: ${PBXD_EXTRA[*]}"
echo "  load: $CALLS calls, 2 streams each (50 packets/s of 172 bytes), $((CALLS * 100)) packets/s in all; ${WARMUP} s warm-up, ${SECONDS_RUN} s measured"

# the calls last until the measurement is over: set-up, the wait for it, both runs, margin
PAUSE_S=$((CALLS / SETUP_RATE + CALLS / 200 + 2 * ROUNDS * (WARMUP + SECONDS_RUN + 2) + 20))
(cd "$WORK/uas" && exec sipp -sf "$HERE/uas.xml" -i 127.0.0.1 -p $UAS_PORT -mp 46000 -trace_logs -trace_err \
	-nostdin </dev/null >sipp.out 2>&1) &
UAS_PID=$!
PIDS+=("$UAS_PID")
wait_port udp $UAS_PORT || die "SIPp UAS did not start: $(tail -3 "$WORK/uas/sipp.out")"
fd0=$(nfds "$PBXD_PID")
t_setup=$(date +%s.%N)
(cd "$WORK/uac" && exec timeout -k 5 $((PAUSE_S + CALLS / SETUP_RATE + 120)) sipp -sf "$HERE/uac.xml" \
	-inf "$WORK/callers.csv" -au '[field0]' -ap '[field1]' -i 127.0.0.1 -p $UAC_PORT -mp 46100 \
	-r "$SETUP_RATE" -m "$CALLS" -l $((CALLS + 100)) -d $((PAUSE_S * 1000)) -recv_timeout 20000 \
	-trace_logs -trace_err -trace_stat -stf stat.csv -fd 1 -nostdin "127.0.0.1:$PBX_UDP_PORT" \
	</dev/null >sipp.out 2>&1) &
UAC_PID=$!
PIDS+=("$UAC_PID")

# all calls up: both sides logged every session
up=0
for _ in $(seq $((CALLS / SETUP_RATE * 10 + 300))); do
	a=$(cat "$WORK"/uac/*_logs.log 2>/dev/null | grep -c '^A ' || true)
	b=$(cat "$WORK"/uas/*_logs.log 2>/dev/null | grep -c '^B ' || true)
	[ "$a" -ge "$CALLS" ] && [ "$b" -ge "$CALLS" ] && up=1 && break
	kill -0 "$UAC_PID" 2>/dev/null || break
	sleep 0.1
done
t_up=$(date +%s.%N)
cat "$WORK"/uac/*_logs.log 2>/dev/null | awk '$1 == "A" { print $2, $3 }' | sort >"$WORK/a.txt"
cat "$WORK"/uas/*_logs.log 2>/dev/null | awk '$1 == "B" { print $2, $3 }' | sort >"$WORK/b.txt"
join "$WORK/a.txt" "$WORK/b.txt" | awk '{ print $2, $3 }' >"$WORK/pairs-pbxd"
npairs=$(wc -l <"$WORK/pairs-pbxd")
fd_up=$(nfds "$PBXD_PID")
printf '  pbxd: %d of %d calls up in %.1f s through SIP (callers %d, callees %d); descriptors %d -> %d\n' \
	"$npairs" "$CALLS" "$(echo "$t_up - $t_setup" | bc -l)" "$(wc -l <"$WORK/a.txt")" "$(wc -l <"$WORK/b.txt")" "$fd0" "$fd_up"
[ "$up" = 1 ] || echo "  pbxd: not every call came up; SIPp: $(grep -m3 'Aborting\|Dead call\|rror' "$WORK"/uac/*_errors.log 2>/dev/null | cut -c1-200)"
[ "$npairs" -gt 0 ] || die "no call came up through pbxd: $(tail -5 "$WORK/uac/sipp.out")"

# rtpengine's calls, set up beside pbxd's (other ports): the runs alternate
if [ "${SKIP_RTPENGINE:-0}" != 1 ]; then
	rtpengine -f -E --table=-1 -i 127.0.0.1 -n 127.0.0.1:$NG_PORT -m 30000 -M 39998 \
		--num-threads="$RTPENGINE_THREADS" -L 3 >"$WORK/rtpengine.log" 2>&1 &
	RTPE_PID=$!
	PIDS+=("$RTPE_PID")
	wait_port udp $NG_PORT || { tail -5 "$WORK/rtpengine.log" >&2; exit 1; }
	"$PY" "$HERE/rtpengine_calls.py" $NG_PORT "$npairs" >"$WORK/pairs-rtpengine" ||
		die "rtpengine set-up failed: $(tail -3 "$WORK/rtpengine.log")"
	echo "  rtpengine: $(wc -l <"$WORK/pairs-rtpengine") calls through ng (offer/answer), userspace, $RTPENGINE_THREADS threads"
fi

for round in $(seq "$ROUNDS"); do
	if [ "$ROUNDS" -gt 1 ]; then echo "  round $round of $ROUNDS:"; fi
	relay pbxd "$PBXD_PID" "$WORK/pairs-pbxd"
	if [ "${SKIP_RTPENGINE:-0}" != 1 ]; then relay rtpengine "$RTPE_PID" "$WORK/pairs-rtpengine"; fi
done

# hang up (the callers' BYEs, when their pause ends) and see the ports come back
wait "$UAC_PID" || true
sleep 1
ok=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { v = $c["SuccessfulCall(C)"]; f = $c["FailedCall(C)"] } END { print v + 0, f + 0 }' "$WORK/uac/stat.csv")
printf '  pbxd: calls ended: %s ok, %s failed (SIPp); descriptors %d after the BYEs\n' "${ok% *}" "${ok#* }" "$(nfds "$PBXD_PID")"
grep -m3 'Aborting\|Dead call' "$WORK"/uac/*_errors.log 2>/dev/null | cut -c1-200 | sed 's/^/    /' || true
kill -TERM "$PBXD_PID" 2>/dev/null || true
kill -TERM "$UAS_PID" 2>/dev/null || true

us_of() { echo "if (${TOT_GOT[$1]} > 0) ${TOT_TICKS[$1]} * 1000000 / $HZ / ${TOT_GOT[$1]} else 0" | bc -l; }
loss_of() { echo "if (${TOT_SENT[$1]} > 0) 100 * ${TOT_LOST[$1]} / ${TOT_SENT[$1]} else 0" | bc -l; }
p_us=$(us_of pbxd)
SUMMARY=("$(printf 'media %d calls (%d relayed), %d x %d s: pbxd %.2f us/packet, loss %.4f%% (%d of %d packets)' \
	"$CALLS" "$npairs" "$ROUNDS" "$SECONDS_RUN" "$p_us" "$(loss_of pbxd)" "${TOT_LOST[pbxd]}" "${TOT_SENT[pbxd]}")")
if [ "${SKIP_RTPENGINE:-0}" != 1 ]; then
	r_us=$(us_of rtpengine)
	ratio=$(echo "if ($r_us > 0) $p_us / $r_us else 0" | bc -l)
	SUMMARY=("$(printf 'media %d calls (%d relayed), %d x %d s: pbxd %.2f us/packet (loss %.4f%%, %d of %d), rtpengine %.2f us/packet (loss %.4f%%, %d of %d), ratio %.2f' \
		"$CALLS" "$npairs" "$ROUNDS" "$SECONDS_RUN" "$p_us" "$(loss_of pbxd)" "${TOT_LOST[pbxd]}" "${TOT_SENT[pbxd]}" \
		"$r_us" "$(loss_of rtpengine)" "${TOT_LOST[rtpengine]}" "${TOT_SENT[rtpengine]}" "$ratio")")
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
