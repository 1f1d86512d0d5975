#!/usr/bin/env bash
# Soak: STREAMS live streams (default 500) of 8 kHz Doppler audio in real time and VIEWERS
# clinicians watching (default 100) against one real `fetalmon serve`, for SECONDS (default 1800).
# Every 30 s a line with the server's RSS, frames sent / acknowledged / in flight, trace samples
# lost or duplicated at the viewers, resyncs and errors; at the end the latency figures, frames
# never acknowledged, and the RSS trend (first, last, max after the first 5 minutes).
#
#   bench/soak.sh [--streams N] [--viewers M] [--seconds S] [--build DIR]
#
# Uses bench/bench_server_load (the clients, one epoll thread) and the build's fetalmon.
# Runs under nice -n 5; other jobs on the machine slow it: say so next to its figures.
set -euo pipefail
cd "$(dirname "$0")/.."
streams=500 viewers=100 seconds=1800 build=build
while [ $# -gt 0 ]; do
  case $1 in
    --streams) streams=$2; shift 2 ;;
    --viewers) viewers=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: $0 [--streams N] [--viewers M] [--seconds S] [--build DIR]" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$build" >/dev/null
nice -n 10 cmake --build "$build" -j2 --target fetalmon bench_server_load >/dev/null
log=$(mktemp /tmp/fm-soak-XXXXXX.log)
echo "# soak: $streams streams, $viewers viewers, $seconds s; log $log"
nice -n 5 "$build/bench/bench_server_load" --streams "$streams" --viewers "$viewers" \
  --seconds "$seconds" --report 30 --bin "$build/fetalmon" | tee "$log"
# RSS trend from the progress lines: first, after 5 min, last, max after 5 min.
awk '/^# t /{ t=$3; rss=$6; if (!first) first=rss; if (t>=300 && !r5) r5=rss;
       if (t>=300 && rss>mx) mx=rss; last=rss }
     END { printf "# RSS MB: first %s, at 5 min %s, last %s, max after 5 min %s\n", first, r5, last, mx }' "$log"
