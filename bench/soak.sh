#!/usr/bin/env bash
# Soak: STREAMS live streams (default 500) of 8 kHz Doppler audio in real time and VIEWERS
# clinicians watching (default 100) against one real `fetalmon serve`, for SECONDS (default 1800).
# Every 30 s a line with the server's RSS, frames sent / acknowledged / in flight, trace samples
# lost or duplicated at the viewers, resyncs, errors, open streams and the machine's load; at the
# end the latency figures, frames never acknowledged, and the RSS trend: first, at 5 min, last,
# max, and the least-squares slope per 10 min over the lines from 5 min on (the warm-up: every
# stream's first analyses, SQLite's page cache, the worker threads' arenas).
#
#   bench/soak.sh [--streams N] [--viewers M] [--seconds S] [--build DIR]
#                 [--session MIN,MAX [--pause MIN,MAX]] [--speed X] [--set KEY=VALUE ...]
#
# Without --session every stream stays open for the whole run (a monitor left on); with it each
# device records MIN..MAX minutes, closes, pauses MIN..MAX seconds (default 30,120) and opens a
# new recording (real home sessions; bench_server_load --session). --speed X sends the audio X
# times faster than real time (hours of stream in minutes: the memory of long open streams).
# Uses bench/bench_server_load (the clients, one epoll thread) and the build's fetalmon (a
# Release build: `cmake -S . -B build -DCMAKE_BUILD_TYPE=Release`). Runs under nice -n 5;
# other jobs on the machine slow it: the load average is in every line, say so next to figures.
# --set passes a server setting (memory_trim_s=60, malloc_arenas=2: docs/api.md); the lines show
# the server's heap in use and free (its /metrics) next to its RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
streams=500 viewers=100 seconds=1800 build=build extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --streams) streams=$2; shift 2 ;;
    --viewers) viewers=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --session|--pause|--speed|--set) extra+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--streams N] [--viewers M] [--seconds S] [--build DIR]" \
            "[--session MIN,MAX [--pause MIN,MAX]] [--speed X] [--set KEY=VALUE]" >&2; exit 2 ;;
  esac
done
cmake -S . -B "$build" >/dev/null
nice -n 10 cmake --build "$build" -j2 --target fetalmon bench_server_load >/dev/null
log=$(mktemp /tmp/fm-soak-XXXXXX.log)
echo "# soak: $streams streams, $viewers viewers, $seconds s ${extra[*]:-}; build $build" \
     "($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")); log $log"
echo "# start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
nice -n 5 "$build/bench/bench_server_load" --streams "$streams" --viewers "$viewers" \
  --seconds "$seconds" --report 30 --bin "$build/fetalmon" "${extra[@]}" | tee "$log"
echo "# end $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
# RSS trend from the progress lines.
awk '/^# t /{ t=$3; rss=$6; heap=$(NF-4); if (first == "") first=rss; if (t>=300 && r5 == "") r5=rss;
       if (rss>mx) mx=rss; last=rss;
       if (t>=300) { n++; sx+=t; sy+=rss; sxx+=t*t; sxy+=t*rss; if (rss>mx5) mx5=rss; if (mn5 == "" || rss<mn5) mn5=rss }
       if (t>=900) { m++; tx+=t; ty+=rss; txx+=t*t; txy+=t*rss; hy+=heap; hxy+=t*heap;
                     if (rss>mx15) mx15=rss; if (mn15 == "" || rss<mn15) mn15=rss } }
     END { slope = n>1 ? (n*sxy-sx*sy)/(n*sxx-sx*sx)*600 : 0;
           printf "# RSS MB: first %s, at 5 min %s, last %s, max %s; from 5 min: min %s max %s, slope %+.1f MB per 10 min (%d lines)\n",
                  first, r5, last, mx, mn5, mx5, slope, n;
           if (m>1) printf "# from 15 min (5-15-min sessions in steady state): RSS min %s max %s, slope %+.1f MB per 10 min; heap in use slope %+.1f MB per 10 min (%d lines)\n",
                  mn15, mx15, (m*txy-tx*ty)/(m*txx-tx*tx)*600, (m*hxy-tx*hy)/(m*txx-tx*tx)*600, m }' "$log"
