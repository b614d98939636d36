#!/bin/sh
# Builds the web portal (web/ -> web/dist/, docs/web.md) for `make build`.
#   1. npm ci, only when web/node_modules is missing or older than
#      web/package-lock.json (npm's own record, node_modules/.package-lock.json,
#      tells). When it fails (offline) and a node_modules was there, that one is
#      put back and the build goes on with it, with a warning.
#   2. node web/build.mjs: type check + esbuild, skipped when dist/ is newer than
#      every source.
set -eu
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "build-web: node and npm are needed to build the web portal (Node.js 20 or later)" >&2
	exit 1
fi

stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
	echo "build-web: npm ci" >&2
	# npm ci empties node_modules first: keep the old one until the new is complete.
	rm -rf node_modules.prev
	[ -d node_modules ] && mv node_modules node_modules.prev
	if npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then
		rm -rf node_modules.prev
	elif [ -d node_modules.prev ]; then
		rm -rf node_modules
		mv node_modules.prev node_modules
		echo "build-web: npm ci failed (offline?); building with the node_modules already there" >&2
	else
		echo "build-web: npm ci failed and there is no web/node_modules to build with" >&2
		exit 1
	fi
fi

exec node build.mjs
