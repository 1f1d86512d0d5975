#!/bin/bash
# Runs the browser tests: installs playwright-core from the lockfile (npm ci, cached after the
# first time), then e2e.mjs against the built `fetalmon`. Exit 77 (ctest SKIP) only when node,
# npm or chromium is truly missing. Debian packages: nodejs npm chromium.
set -u
here=$(cd "$(dirname "$0")" && pwd)
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not installed (apt-get install nodejs npm)"
        exit 77
    fi
done
chromium=${FM_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
    echo "SKIP: $chromium not installed (apt-get install chromium)"
    exit 77
fi
# node_modules lives beside the lockfile; a second run finds it and skips the install.
if [ ! -f "$here/node_modules/playwright-core/package.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || {
        echo "FAIL: npm ci could not install playwright-core (is the npm registry reachable?)"
        exit 1
    }
fi
exec node "$here/e2e.mjs"
