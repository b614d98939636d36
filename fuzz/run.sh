#!/bin/bash
# fuzz/run.sh: builds the libFuzzer targets (clang, ASan+UBSan) into build-fuzz/
# when needed and runs each for a bounded time, seeded from the SIP torture
# messages (../shared/testdata/sip-torture/) and a few valid messages written
# below. Prints exactly one line per target, which tools/run-tests.sh counts:
#
#   fuzz NAME: ok        ran FUZZ_SECONDS with no crash, sanitizer report or leak
#   fuzz NAME: FAILED    a finding (or the target did not build); log kept
#   fuzz NAME: skipped   no clang or no libFuzzer runtime (tools/install-deps.sh)
#
# Other output goes to stderr or starts with "  ". Exits 1 when any target failed.
#
# Environment:
#   FUZZ_SECONDS       seconds per target (default 20)
#   FUZZ_JOBS          targets run at once (default: number of CPUs, at most 3)
#   FUZZ_TARGETS       space-separated subset, e.g. "fuzz_sip_msg fuzz_sip_uri"
#   FUZZ_BUILD_DIR     build directory (default build-fuzz at the repo top)
#   FUZZ_KEEP_CORPUS=1 keep what the run finds in fuzz/corpus-NAME (gitignored);
#                      an existing fuzz/corpus-NAME is always used and grown.
# A long campaign: docs/fuzzing.md.
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$(cd "$REPO/.." && pwd)/shared
TORTURE=$SHARED/testdata/sip-torture
BUILD=${FUZZ_BUILD_DIR:-$REPO/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
NCPU=$(nproc 2>/dev/null || echo 2)
JOBS=${FUZZ_JOBS:-$((NCPU < 3 ? NCPU : 3))}

# The targets fuzz/meson.build defines; fuzz_api_json only where src/api
# provides api_request_fuzz().
ALL_TARGETS="fuzz_sip_msg fuzz_sip_uri fuzz_sip_frame fuzz_sip_auth fuzz_pbx_register fuzz_sdp fuzz_ws_frame fuzz_stun fuzz_srtp fuzz_xcode fuzz_tzif"
if grep -qs 'api_request_fuzz' "$REPO/src/api/api.h"; then
	ALL_TARGETS="$ALL_TARGETS fuzz_api_json"
fi
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}

say_all() { for t in $TARGETS; do echo "fuzz ${t#fuzz_}: $1"; done; }

WORK=$(mktemp -d /tmp/pbxd-fuzz-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Stop the fuzzers this script started when it is interrupted.
trap 'kill -TERM $(jobs -p) 2>/dev/null; exit 143' INT TERM

# ---------------------------------------------------------------- toolchain
if ! command -v clang >/dev/null 2>&1; then
	echo "  clang not found: run tools/install-deps.sh" >&2
	say_all skipped
	exit 0
fi
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
	>"$WORK/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined "$WORK/probe.c" -o "$WORK/probe" >/dev/null 2>&1; then
	echo "  clang cannot link libFuzzer (libclang-rt-*-dev missing?): run tools/install-deps.sh" >&2
	say_all skipped
	exit 0
fi

# ---------------------------------------------------------------- build
# Every object is compiled with coverage instrumentation (fuzzer-no-link) so
# libFuzzer sees the parsers' branches; only the fuzz executables link
# libFuzzer's main (fuzz/meson.build adds -fsanitize=fuzzer to them).
# Two runs at once (two engineers' `make test`) must not drive ninja in the same
# directory together: the build step holds a lock.
mkdir -p "$BUILD"
exec 9>"$BUILD/.fuzz-build.lock"
flock 9
if [ ! -f "$BUILD/build.ninja" ]; then
	wipe=()
	[ -d "$BUILD/meson-private" ] && wipe=(--wipe) # a setup that failed half-way
	if ! CC=clang meson setup "${wipe[@]}" "$BUILD" "$REPO" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >"$WORK/setup.log" 2>&1; then
		sed 's/^/  /' "$WORK/setup.log" | tail -20 >&2
		say_all FAILED
		exit 1
	fi
fi
declare -A BUILT
for t in $TARGETS; do
	if ninja -C "$BUILD" "fuzz/$t" >"$WORK/build-$t.log" 2>&1; then
		BUILT[$t]=1
	else
		echo "  $t did not build:" >&2
		grep -E 'error|Error' "$WORK/build-$t.log" | head -10 | sed 's/^/  /' >&2
	fi
done
flock -u 9
exec 9>&-

# ---------------------------------------------------------------- seeds
seed() { # seed DIR NAME: stdin (printf escapes already applied) into DIR/NAME
	mkdir -p "$1"
	cat >"$1/$2"
}
msg() { printf '%b' "$1"; }

S=$WORK/seeds
mkdir -p "$S/msg" "$S/uri" "$S/auth" "$S/api" "$S/reg" "$S/ws"
for f in "$TORTURE"/rfc4475/*.dat "$TORTURE"/rfc5118/*; do
	[ -f "$f" ] && cp "$f" "$S/msg/$(basename "$f")"
done

msg 'REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nFrom: "Alice" <sip:alice@example.com>;tag=1928301774\r\nTo: <sip:alice@example.com>\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"\r\nAuthorization: Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz"\r\nUser-Agent: Phone/1.0\r\nContent-Length: 0\r\n\r\n' | seed "$S/msg" register
msg 'INVITE sip:bob@example.com;user=phone SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::10]:5063;branch=z9hG4bKnashds8\r\nVia: SIP/2.0/UDP 192.0.2.1;received=198.51.100.7;branch=z9hG4bK1\r\nRecord-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\nRoute: <sip:edge.example.com;lr>\r\nMax-Forwards: 69\r\nFrom: Alice <sip:alice@example.com>;tag=88sja8x\r\nTo: "Bob \\"B\\"" <sip:bob@example.com>\r\nCall-ID: 987asjd97y7atg\r\nCSeq: 986759 INVITE\r\nContact: <sip:alice@[2001:db8::10]:5063;transport=tcp>\r\nSupported: 100rel, timer\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\nContent-Type: application/sdp\r\nContent-Length: 129\r\n\r\nv=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n' | seed "$S/msg" invite
msg 'SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5060\r\nf: <sip:alice@example.com>;tag=1928301774\r\nt: <sip:bob@example.com>;tag=a6c85cf\r\ni: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nm: <sip:bob@192.0.2.4>\r\nk: timer\r\nl: 0\r\n\r\n' | seed "$S/msg" ok-compact
msg 'BYE sip:alice@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds10\r\nMax-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=a6c85cf\r\nTo: <sip:alice@example.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\nCSeq: 231 BYE\r\nContent-Length: 0\r\n\r\n' | seed "$S/msg" bye
msg 'OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\nFrom: <sip:bench@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: 1-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n\r\n\r\nACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-2\r\nMax-Forwards: 70\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: 2\r\nCSeq: 1 ACK\r\nl: 4\r\n\r\nabcd' | seed "$S/msg" stream-pipelined

# URI, name-addr, Via and parameter values: hand-written, plus every
# Request-URI and address/Via header value of the torture messages.
n=0
for v in 'sip:alice:pw@example.com:5060;transport=tcp;lr?subject=x&h=%20' \
	'sips:[2001:db8::1]:5061;maddr=[::1]' 'sip:user%40x@192.0.2.1' 'tel:+1-201-555-0123;phone-context=x' \
	'"A \"q\" B" <sip:a@b;lr>;tag=x;q=0.5' '*' '<urn:service:sos>' \
	'SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK1;received=::1;rport=1;maddr=224.2.0.1;ttl=1' \
	';a=b;c;d="x;y"' 'host.example.com:65535'; do
	printf '%s' "$v" | seed "$S/uri" "hand-$((n++))"
done
for f in "$S"/msg/*; do
	awk 'NR==1 && $3 ~ /^SIP\// { print $2 }
	     /^(Via|v|From|f|To|t|Contact|m|Route|Record-Route)[ \t]*:/ { sub(/^[^:]*:[ \t]*/, ""); sub(/\r$/, ""); print }' \
		"$f" 2>/dev/null | head -20 | while IFS= read -r line; do
		printf '%s' "$line" >"$S/uri/$(basename "$f")-$RANDOM$RANDOM"
	done
done

n=0
for v in 'Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz", opaque="o"' \
	'Digest username="b\"o\\b", realm="r", nonce="n", uri="sip:r", response="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", algorithm=SHA-256-sess, qop=auth, nc=ffffffff, cnonce="c"' \
	'Digest username="a",realm="r",nonce="n",uri="sip:x",response="0123456789abcdef0123456789abcdef"' \
	'Basic YWxhZGRpbjpvcGVuc2VzYW1l'; do
	printf '%s' "$v" | seed "$S/auth" "hand-$((n++))"
done
grep -ah '^\(Proxy-\)\?Authorization' "$TORTURE"/rfc4475/*.dat 2>/dev/null | sed 's/^[^:]*:[ \t]*//; s/\r$//' |
	while IFS= read -r line; do printf '%s' "$line" >"$S/auth/torture-$RANDOM$RANDOM"; done

# API: first byte picks the route (api_request_fuzz in src/api/api.c).
n=0
for v in '0{"username":"admin","password":"fuzz-pass1"}' '1{"refresh_token":"x"}' \
	'2{"name":"T","domain":"t.example","admin":{"username":"ta","password":"fuzz-pass1"}}' \
	'3{"name":"G2","enabled":false}' \
	'4{"username":"u2","password":"fuzz-pass1","email":"u2@x.io","extension_number":"102","extension_password":"sipsecret2"}' \
	'5{"email":"v@x.io","enabled":true}' '6{"voicemail":true,"ring_seconds":20}' '7{"dnd":true}' \
	'8{"display_name":"\u00e9\ud83d\ude00"}' '9username eq "u1" and enabled eq true'; do
	printf '%s' "$v" | seed "$S/api" "hand-$((n++))"
done

# REGISTERs for fuzz_pbx_register. The first byte is the harness's flags (see
# fuzz/fuzz_pbx_register.c): '@' plain UDP from the trusted 127.0.0.1; 'D' (0x44)
# with valid MD5 credentials of 101@fz.test inserted after the request line; 'E'
# the same over TCP; 'L' SHA-256; 'd' as extension 102; 'F' from the untrusted
# 127.0.0.2; 'V' untrusted with a wrong password (a failure that counts to a ban).
reg() { # reg NAME FLAG HEADERS [EXT]: a REGISTER of EXT@fz.test (default 101), HEADERS after CSeq
	local to=${4:-101}
	msg "$2REGISTER sip:fz.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-$1\r\nMax-Forwards: 70\r\nFrom: <sip:$to@fz.test>;tag=$1\r\nTo: <sip:$to@fz.test>\r\nCall-ID: $1@192.0.2.10\r\nCSeq: 2 REGISTER\r\n$3User-Agent: Phone/1.0\r\nContent-Length: 0\r\n\r\n" |
		seed "$S/reg" "$1"
}
reg one D 'Contact: <sip:101@192.0.2.10:5060;transport=udp>\r\nExpires: 3\r\n'
reg two D 'Contact: <sip:101@192.0.2.10:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;q=0.7;expires=4, <sip:101@[2001:db8::10]:5062;transport=tcp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E129>";reg-id=2;q=1.0\r\nSupported: path, outbound\r\nExpires: 2\r\n'
reg star D 'Contact: *\r\nExpires: 0\r\n'
reg expires0 D 'Contact: <sip:101@192.0.2.10:5060;transport=udp>\r\nExpires: 0\r\n'
reg mixed D 'Contact: <sip:101@192.0.2.10:5060>;expires=0\r\nContact: "Desk" <sips:101@phone.example.com;ob>;expires=600;q=0.25\r\n'
reg path E 'Path: <sip:edge1.example.com;lr>\r\nPath: <sip:edge2.example.com;lr;ob>, <sip:[2001:db8::1]:5070;lr>\r\nContact: <sip:101@198.51.100.7:40000;transport=tcp>;expires=5\r\n'
reg sha L 'Contact: <sip:101@192.0.2.10:5060>;expires=1\r\n'
reg ext102 d 'Contact: <sip:102@192.0.2.11:5060>;expires=3\r\n' 102
reg noauth @ 'Contact: <sip:101@192.0.2.10:5060>\r\n'
reg query D ''
reg untrusted F 'Contact: <sip:101@192.0.2.10:5060>;expires=2\r\n'
reg wrong V 'Contact: <sip:101@192.0.2.10:5060>\r\n'
reg bad-expiry D 'Contact: <sip:101@192.0.2.10:5060>;expires=0.5\r\nExpires: 99999999999\r\n'
msg 'DREGISTER sip:fz.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-older\r\nMax-Forwards: 70\r\nFrom: <sip:101@fz.test>;tag=r\r\nTo: <sip:101@fz.test>\r\nCall-ID: one@192.0.2.10\r\nCSeq: 1 REGISTER\r\nContact: <sip:101@192.0.2.10:5060;transport=udp>\r\nAuthorization: Digest username="101", realm="other.test", nonce="abc", uri="sip:fz.test", response="0123456789abcdef0123456789abcdef"\r\nContent-Length: 0\r\n\r\n' |
	seed "$S/reg" cseq-older

# SDP offers for fuzz_sdp: a desk phone, a WebRTC browser, audio + video over IPv6, a hold.
msg 'v=0\r\no=- 20022 20022 IN IP4 192.168.1.50\r\ns=SDP data\r\nc=IN IP4 192.168.1.50\r\nt=0 0\r\nm=audio 11796 RTP/AVP 0 8 18 9 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n' | seed "$S/sdp" phone
msg 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 9 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2122260223 192.0.2.7 54321 typ host\r\na=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\na=fingerprint:sha-256 D2:FA:0E:C3\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\n' | seed "$S/sdp" webrtc
msg 'v=0\no=polycom 1 2 IN IP6 2001:db8::5\ns=-\ni=x\nc=IN IP6 2001:db8::5\nb=CT:1024\nt=0 0\nm=audio 2222 RTP/AVP 9 101\na=rtpmap:101 telephone-event/8000\na=sendonly\nm=video 2224/2 RTP/AVP 96 34\nc=IN IP4 192.0.2.99/127\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=1\na=inactive\nm=application 0 UDP/BFCP *\n' | seed "$S/sdp" av
msg 'v=0\r\no=b 5 6 IN IP4 host.example\r\ns= \r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=sendonly\r\nm=audio 7078 RTP/AVP 8 96\r\na=rtpmap:96 opus/48000/2\r\na=rtcp:7079\r\na=maxptime:40\r\n' | seed "$S/sdp" hold
# WebSocket client frames for fuzz_ws_frame (masked, as clients send them): a
# ping, a close with its code, a text frame with a 16-bit length, a ping and a
# pong back to back; the handshake key of RFC 6455 §1.3; an upgrade request.
msg '\x89\x84\x01\x02\x03\x04qkpc' | seed "$S/ws" ping
msg '\x88\x82\x11\x22\x33\x44\x12\xca' | seed "$S/ws" close
{ msg '\x81\xfe\x00\x80\x00\x00\x00\x00'; head -c 128 /dev/zero; } | seed "$S/ws" text16
msg '\x89\x80\x01\x02\x03\x04\x8a\x81\x05\x06\x07\x08A' | seed "$S/ws" ping-pong
printf '%s' 'dGhlIHNhbXBsZSBub25jZQ==' | seed "$S/ws" key
msg 'GET /ws HTTP/1.1\r\nHost: pbx\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n' | seed "$S/ws" upgrade
# STUN for fuzz_stun: RFC 5769's sample request (ICE attributes, integrity,
# fingerprint) and its IPv4 response.
mkdir -p "$S/stun"
msg '\x00\x01\x00\x58\x21\x12\xa4\x42\xb7\xe7\xa7\x01\xbc\x34\xd6\x86\xfa\x87\xdf\xae\x80\x22\x00\x10STUN test client\x00\x24\x00\x04\x6e\x00\x01\xff\x80\x29\x00\x08\x93\x2f\xf9\xb1\x51\x26\x3b\x36\x00\x06\x00\x09evtj:h6vY   \x00\x08\x00\x14\x9a\xea\xa7\x0c\xbf\xd8\xcb\x56\x78\x1e\xf2\xb5\xb2\xd3\xf2\x49\xc1\xb5\x71\xa2\x80\x28\x00\x04\xe5\x7a\x3b\xcf' | seed "$S/stun" request
msg '\x01\x01\x00\x3c\x21\x12\xa4\x42\xb7\xe7\xa7\x01\xbc\x34\xd6\x86\xfa\x87\xdf\xae\x80\x22\x00\x0btest vector \x00\x20\x00\x08\x00\x01\xa1\x47\xe1\x12\xa6\x43\x00\x08\x00\x14\x2b\x91\xf5\x99\xfd\x9e\x90\xc3\x8c\x74\x89\xf9\x2a\xf9\xba\x53\xf0\x6b\xe7\xd7\x80\x28\x00\x04\xc0\x7d\x4c\x96' | seed "$S/stun" response
# SRTP for fuzz_srtp: a flags byte (bit 0 AES-GCM, bit 1 RTCP), then packets,
# each a 2-byte length and its bytes (see fuzz/fuzz_srtp.c). Plain RTP
# (CSRCs, a header extension, a sequence number wrap) and RTCP (SR + SDES);
# the target protects them itself for its round trip.
mkdir -p "$S/srtp"
rtp_seed() { # rtp_seed SEQ: a 2-CSRC, one-word-extension RTP packet of 20 bytes of payload, with its length
	msg "\x00\x30\x92\x6f$1\x00\x00\x03\xc0\x12\x34\x56\x78\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xbe\xde\x00\x01\x10\xaa\x00\x00"
	head -c 20 /dev/zero | tr '\0' 'U'
}
for f in 0 1; do
	{ msg "\x0$f"; rtp_seed '\xff\xfe'; rtp_seed '\xff\xff'; rtp_seed '\x00\x00'; rtp_seed '\xff\xfd'; rtp_seed '\x00\x00'; } | seed "$S/srtp" "rtp-$f"
	msg "\x0$((f + 2))\x00\x2c\x80\xc8\x00\x06\xca\xfe\x00\x01ntp-ts--rtp-pkts-oct\x81\xca\x00\x03\xca\xfe\x00\x01\x01\x05pbxd!\x00" | seed "$S/srtp" "rtcp-$f"
done
# RTP for fuzz_xcode: packets, each a length byte and its bytes (the second
# byte's low bit picks audio or telephone-event): silence in G.711, an Opus
# frame's TOC, an event.
mkdir -p "$S/xcode"
{ msg '\x0c\x80\x01\x00\x01\x00\x00\x00\xa0\x12\x34\x56\x78'; msg '\x10\x81\x01\x00\x02\x00\x00\x01\x40\x12\x34\x56\x78\xff\xff\xff\xff';
  msg '\x0f\x81\x01\x00\x03\x00\x00\x01\xe0\x12\x34\x56\x78\xf8\xff\xfe'; msg '\x10\x80\x80\x00\x04\x00\x00\x02\x80\x12\x34\x56\x78\x05\x8a\x01\x40'; } | seed "$S/xcode" rtp

# A dictionary of SIP tokens helps the mutator past the keyword checks.
cat >"$WORK/sip.dict" <<'EOF'
"SIP/2.0"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"INVITE"
"REGISTER"
"OPTIONS"
"ACK"
"BYE"
"Via:"
"v:"
"From:"
"To:"
"Call-ID:"
"CSeq:"
"Contact:"
"Max-Forwards:"
"Content-Length:"
"l:"
"Route:"
"Record-Route:"
"Require:"
"Authorization:"
"Digest "
"sip:"
"sips:"
"tel:"
"SIP/2.0/UDP "
";branch=z9hG4bK"
";rport"
";received="
";tag="
";transport=tcp"
";lr"
";maddr="
"<sip:"
">"
"[::1]"
"%00"
"username="
"realm="
"nonce="
"uri="
"response="
"qop=auth"
"nc=00000001"
"cnonce="
"algorithm=SHA-256"
EOF
printf '"%s"\n' '\x0d\x0a' v=0 o=- s=- 'c=IN IP4 ' 'c=IN IP6 ' t=0 m=audio m=video ' RTP/AVP ' a=rtpmap: a=fmtp: a=ptime: a=rtcp: a=rtcp-mux a=sendonly a=recvonly a=inactive a=sendrecv telephone-event/8000 opus/48000/2 b=AS: >"$WORK/sdp.dict" # fuzz_sdp's tokens
# fuzz_pbx_register: those and the tokens of REGISTER (RFC 3261 §10, RFC 3327, RFC 5626).
cat "$WORK/sip.dict" - >"$WORK/reg.dict" <<'EOF'
"Expires:"
";expires="
";q="
";q=0.5"
";+sip.instance="
"\"<urn:uuid:"
";reg-id="
"Path:"
"Supported:"
"outbound"
";ob"
"Contact: *"
"User-Agent:"
"Proxy-Authorization:"
"fz.test"
"sip:101@fz.test"
"sip:102@fz.test"
"<sip:101@fz.test>"
"off.test"
"4294967295"
"0.000"
"1.0"
EOF

# fuzz_tzif: a few of tzdata's TZif files (fat or slim, half-hour DST, negative DST and
# transition times) and POSIX TZ strings (the target reads TZ strings when the input is not TZif).
mkdir -p "$S/tzif"
for z in UTC Europe/Paris America/New_York Asia/Kolkata Australia/Lord_Howe America/Nuuk Europe/Dublin; do [ -f "/usr/share/zoneinfo/$z" ] && cp "/usr/share/zoneinfo/$z" "$S/tzif/${z//\//-}"; done
for v in 'CET-1CEST,M3.5.0,M10.5.0/3' '<+1030>-10:30<+11>-11,M10.1.0,M4.1.0' 'EST5EDT,0/0,J365/25' '<-02>2<-01>,M3.5.0/-1,M10.5.0/0'; do printf '%s' "$v" >"$S/tzif/posix-$RANDOM$RANDOM"; done

# ---------------------------------------------------------------- run
seeds_of() {
	case $1 in
	fuzz_sip_msg | fuzz_sip_frame) echo "$S/msg" ;;
	fuzz_sip_uri) echo "$S/uri" ;;
	fuzz_sip_auth) echo "$S/auth" ;;
	fuzz_api_json) echo "$S/api" ;;
	fuzz_pbx_register) echo "$S/reg" ;;
	fuzz_sdp) echo "$S/sdp" ;;
	fuzz_tzif) echo "$S/tzif" ;;
	fuzz_ws_frame) echo "$S/ws" ;;
	fuzz_stun) echo "$S/stun" ;;
	fuzz_srtp) echo "$S/srtp" ;;
	fuzz_xcode) echo "$S/xcode" ;;
	esac
}

# Sanitizer reports are fatal, so that a finding stops the run with a non-zero status.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Each run logs into its own temp dir; the logs are copied to $BUILD/fuzz-logs/
# at the end (NAME.log: the last run; NAME-failed-DATE.log kept for a finding).
# Crash inputs go to $BUILD/fuzz-logs/NAME-artifacts/.
LOGS=$WORK/logs
KEEP=$BUILD/fuzz-logs
mkdir -p "$LOGS" "$KEEP"

run_one() { # run_one TARGET: writes $WORK/TARGET.rc
	local t=$1 name=${1#fuzz_} corpus
	if [ -d "$REPO/fuzz/corpus-$name" ] || [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ]; then
		corpus=$REPO/fuzz/corpus-$name
	else
		corpus=$WORK/corpus-$name
	fi
	mkdir -p "$corpus" "$KEEP/$name-artifacts"
	local dict=()
	case $t in
	fuzz_api_json) ;;
	fuzz_pbx_register) dict=(-dict="$WORK/reg.dict") ;;
	fuzz_sdp) dict=(-dict="$WORK/sdp.dict") ;;
	fuzz_ws_frame | fuzz_stun | fuzz_srtp | fuzz_xcode) dict=() ;;
	*) dict=(-dict="$WORK/sip.dict") ;;
	esac
	"$BUILD/fuzz/$t" -max_total_time="$SECONDS_EACH" -max_len=65535 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$KEEP/$name-artifacts/" "${dict[@]}" \
		"$corpus" "$(seeds_of "$t")" >"$LOGS/$name.log" 2>&1
	echo $? >"$WORK/$t.rc"
}

running=0
for t in $TARGETS; do
	[ -n "${BUILT[$t]:-}" ] || continue
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
for t in $TARGETS; do
	name=${t#fuzz_}
	log=$LOGS/$name.log
	if [ -z "${BUILT[$t]:-}" ]; then
		echo "fuzz $name: FAILED"
		echo "  (did not build; see ninja -C $BUILD fuzz/$t)"
		failed=1
		continue
	fi
	rc=$(cat "$WORK/$t.rc" 2>/dev/null || echo 99)
	cp "$log" "$KEEP/$name.log" 2>/dev/null
	if [ "$rc" -eq 0 ] && ! grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:' "$log"; then
		echo "fuzz $name: ok"
		grep -aE '^#[0-9]+.*DONE' "$log" | tail -1 | sed 's/^/  /'
	else
		echo "fuzz $name: FAILED"
		grep -aE 'ERROR:|runtime error:|SUMMARY:|Test unit written|^    #[0-9]' "$log" | head -20 | sed 's/^/  /'
		kept=$KEEP/$name-failed-$(date +%Y%m%d-%H%M%S).log
		cp "$log" "$kept"
		echo "  (full log: $kept)"
		failed=1
	fi
done
exit $failed
