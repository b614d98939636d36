#!/usr/bin/env bash
# Runs every test of pbxd and ends with exactly one summary line:
#   N passed, N failed[, N skipped]
# and a non-zero exit status if anything failed.
#
#   (a) cmocka unit tests of build/ and build-asan/ through `meson test`, counted
#       per test case from their TAP output (CMOCKA_MESSAGE_OUTPUT=TAP);
#   (b) the pytest wire tests of tests/wire/, once against build/'s pbxd and once
#       against build-asan/'s, each inside a private network namespace;
#   (c) fuzz/run.sh if it exists (lines "fuzz NAME: ok" / "fuzz NAME: FAILED");
#   (d) the web portal's browser tests (tests/web/run.mjs: node's test runner,
#       headless Chromium) against the first build dir's pbxd, in a private
#       network namespace, counted from their TAP report.
#
# Expects `make build build-asan` to have run (the Makefile's `test` target does).
# Environment: BUILD_DIRS (default "build build-asan"), PYTEST_TIMEOUT (seconds per
# wire run, default 900), FUZZ_TIMEOUT (default 300), FUZZ_SECONDS (per fuzz
# target, default 5 here: make test keeps within its 20 minutes; a campaign is
# docs/fuzzing.md's), PYTEST_ARGS (extra args), WEB_TIMEOUT (seconds for the web
# tests, default 600).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
PY=/usr/bin/python3 # Debian's python, the one that sees python3-pytest
BUILD_DIRS=${BUILD_DIRS:-"build build-asan"}
PYTEST_TIMEOUT=${PYTEST_TIMEOUT:-900}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-300}
export FUZZ_SECONDS=${FUZZ_SECONDS:-5}
export PYTHONDONTWRITEBYTECODE=1

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pbxd-tests.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# add PASSED FAILED SKIPPED LABEL: adds one phase's counts to the totals.
add() {
	PASSED=$((PASSED + $1))
	FAILED=$((FAILED + $2))
	SKIPPED=$((SKIPPED + $3))
	echo "== $4: $1 passed, $2 failed, $3 skipped"
	if [ "$2" -ne 0 ]; then
		FAILURES+=("$4")
	fi
}

is_asan_dir() {
	"$PY" - "$1/meson-info/intro-buildoptions.json" <<'EOF'
import json, sys
try:
    opts = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(1)
sys.exit(0 if any(o.get("name") == "b_sanitize" and "address" in str(o.get("value"))
                  for o in opts) else 1)
EOF
}

# The pbxd executable of a build dir (the top level or src/).
pbxd_of() {
	local base=$1
	case $base in /*) ;; *) base=$TOP/$base ;; esac
	if [ -x "$base/pbxd" ]; then
		echo "$base/pbxd"
	else
		echo "$base/src/pbxd"
	fi
}

sanitizer_env() {
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
}

# ---------------------------------------------------------------- (a) unit tests
run_unit() {
	local dir=$1 label="unit tests ($1)"
	if [ ! -f "$dir/build.ninja" ]; then
		echo "!! $dir is not a configured build directory (run make build build-asan)"
		add 0 1 0 "$label"
		return
	fi
	echo "== $label: meson test -C $dir --print-errorlogs"
	rm -f "$dir/meson-logs/testlog.json"
	(
		export CMOCKA_MESSAGE_OUTPUT=TAP
		if is_asan_dir "$dir"; then sanitizer_env; fi
		meson test -C "$dir" --print-errorlogs
	)
	local rc=$?
	local counts
	meson introspect --tests "$dir" >"$WORK/intro.json" 2>/dev/null
	counts=$("$PY" - "$dir/meson-logs/testlog.json" "$WORK/intro.json" "$rc" <<'EOF'
# Counts cmocka test cases from meson's test log: every TAP "ok"/"not ok" line
# is one case. An executable without TAP output counts as one case; one that
# failed without any "not ok" line (crash, leak report at exit, timeout) or
# stopped short of its "1..N" plan adds a failure; a test that introspection
# lists but the log lacks (never ran) is a failure.
import json, re, sys
log, intro, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = f = s = 0
seen = set()
try:
    lines = open(log, encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    lines = []
for line in lines:
    try:
        t = json.loads(line)
    except ValueError:
        continue
    name, result = t.get("name", "?"), t.get("result", "")
    seen.add(name)
    out = t.get("stdout") or ""
    tp = tf = ts = 0
    plan = None
    for l in out.splitlines():
        m = re.match(r"^(not ok|ok)\b", l)
        if m:
            if "# SKIP" in l.upper():
                ts += 1
            elif m.group(1) == "ok":
                tp += 1
            else:
                tf += 1
                print(f"FAILED case: {name}: {l}", file=sys.stderr)
            continue
        m = re.match(r"^1\.\.(\d+)", l)
        if m:
            plan = (plan or 0) + int(m.group(1))
    ok_result = result in ("OK", "EXPECTEDFAIL")
    if tp + tf + ts == 0:
        if result == "SKIP":
            ts = 1
        elif ok_result:
            tp = 1
        else:
            tf = 1
    else:
        if plan is not None and tp + tf + ts < plan:
            tf += plan - (tp + tf + ts)
        if not ok_result and result != "SKIP" and tf == 0:
            tf = 1
    if tf:
        print(f"FAILED test: {name} ({result}, exit {t.get('returncode')})", file=sys.stderr)
    p, f, s = p + tp, f + tf, s + ts
try:
    for t in json.load(open(intro)):
        if t["name"] not in seen:
            print(f"FAILED test: {t['name']} did not run", file=sys.stderr)
            f += 1
except (OSError, ValueError):
    pass
if rc != 0 and f == 0:
    print(f"FAILED: meson test exited {rc}", file=sys.stderr)
    f = 1
print(p, f, s)
EOF
	)
	# shellcheck disable=SC2086
	add $counts "$label"
}

# ---------------------------------------------------------------- (b) wire tests
run_wire() {
	local dir=$1 suite=${2:-tests/wire} label="${2:-tests/wire} ($1)"
	local bin
	bin=$(pbxd_of "$dir")
	if [ ! -x "$bin" ]; then
		echo "!! no pbxd executable in $dir"
		add 0 1 0 "$label"
		return
	fi
	echo "== $label: PBXD_BIN=${bin#"$TOP"/} pytest $suite (private netns)"
	local xml="$WORK/pytest-${suite//\//_}-${dir//\//_}.xml"
	(
		export PBXD_BIN=$bin
		export PBXCTL_BIN=${bin%/pbxd}/tools/pbxctl/pbxctl
		if is_asan_dir "$dir"; then sanitizer_env; fi
		# shellcheck disable=SC2086
		timeout -k 10 "$PYTEST_TIMEOUT" tools/netns-run "$PY" -m pytest "$suite" \
			-q -rA --tb=short -p no:cacheprovider --junitxml="$xml" ${PYTEST_ARGS:-}
	)
	local rc=$?
	local counts
	counts=$("$PY" - "$xml" "$rc" <<'EOF'
import sys
import xml.etree.ElementTree as ET
path, rc = sys.argv[1], int(sys.argv[2])
p = f = s = 0
try:
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        tags = {c.tag for c in tc}
        if "failure" in tags or "error" in tags:
            f += 1
        elif "skipped" in tags:
            s += 1
        else:
            p += 1
except (OSError, ET.ParseError):
    pass
if rc == 124 or rc == 137:
    print(f"FAILED: pytest timed out", file=sys.stderr)
    f += 1
elif rc != 0 and f == 0:
    # pytest.exit, collection error, no tests collected (5), internal error...
    print(f"FAILED: pytest exited {rc}", file=sys.stderr)
    f += 1
print(p, f, s)
EOF
	)
	# shellcheck disable=SC2086
	add $counts "$label"
}

# ---------------------------------------------------------------- (c) fuzzing
run_fuzz() {
	[ -e fuzz/run.sh ] || return 0
	local label="fuzz" out="$WORK/fuzz.out"
	echo "== $label: fuzz/run.sh"
	local cmd=(bash fuzz/run.sh)
	[ -x fuzz/run.sh ] && cmd=(fuzz/run.sh)
	timeout -k 10 "$FUZZ_TIMEOUT" "${cmd[@]}" 2>&1 | tee "$out"
	local rc=${PIPESTATUS[0]}
	local p f
	p=$(grep -cE '^fuzz [^ ]+: ok\s*$' "$out")
	f=$(grep -cE '^fuzz [^ ]+: FAILED' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!! fuzz/run.sh exited $rc"
		f=1
	fi
	add "$p" "$f" 0 "$label"
}

# ---------------------------------------------------------------- (d) web portal
run_web() {
	[ -e tests/web/run.mjs ] || return 0
	local dir=${BUILD_DIRS%% *} label="tests/web" tap="$WORK/web.tap"
	local bin
	bin=$(pbxd_of "$dir")
	echo "== $label: PBXD_BIN=${bin#"$TOP"/} node tests/web/run.mjs (private netns)"
	PBXD_BIN=$bin timeout -k 10 "${WEB_TIMEOUT:-600}" tools/netns-run node tests/web/run.mjs --tap "$tap"
	local rc=$?
	local p=0 f=0 s=0
	if [ -f "$tap" ]; then
		read -r p f s < <(awk '/^# pass /{p=$3} /^# fail /{f=$3} /^# (skipped|todo) /{s+=$3}
			END{print p+0, f+0, s+0}' "$tap")
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!! tests/web/run.mjs exited $rc"
		f=1
	fi
	add "$p" "$f" "$s" "$label"
}

for d in $BUILD_DIRS; do
	run_unit "$d"
done
# Each suite in its own pytest run: each has its own conftest module.
for d in $BUILD_DIRS; do
	for suite in tests/wire tests/api tests/pbxctl; do
		[ -d "$suite" ] && run_wire "$d" "$suite"
	done
done
run_fuzz
run_web

if [ ${#FAILURES[@]} -ne 0 ]; then
	echo "== failures in: ${FAILURES[*]}"
fi
summary="$PASSED passed, $FAILED failed"
if [ "$SKIPPED" -ne 0 ]; then
	summary="$summary, $SKIPPED skipped"
fi
echo "$summary"
[ "$FAILED" -eq 0 ]
