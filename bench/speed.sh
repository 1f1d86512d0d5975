#!/usr/bin/env bash
# Speed and memory of the whole `fetalmon analyze` process on Doppler audio (wall time including
# reading the file, peak RSS from /usr/bin/time -v). Builds Release (-O2) in build-release/,
# renders the inputs with fetalmon-synth (constant 140 bpm, defaults otherwise), then analyses:
#   - 20 minutes, 44.1 kHz, 16-bit mono WAV (target >= 3000x realtime, i.e. < 0.4 s)
#   - 2 hours, same format (peak RSS must stay flat: streaming, target < 64 MB)
# Each file is analysed RUNS times (default 5) after one warm-up read; the median wall time is
# reported (the file is then in the page cache: this measures the engine, not the disk).
# Usage: bench/speed.sh [--no-2h]     (env: RUNS=5, SPEED_DIR=/tmp/fetalmon-speed)
# Needs GNU time (/usr/bin/time, Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
dir=${SPEED_DIR:-/tmp/fetalmon-speed}
do_2h=1
[ "${1:-}" = "--no-2h" ] && do_2h=0
if [ ! -x /usr/bin/time ]; then
    echo "speed.sh: /usr/bin/time missing (apt-get install time)" >&2
    exit 2
fi
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DFM_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j"$(nproc)" --target fetalmon fetalmon-synth >/dev/null
mkdir -p "$dir"

measure() { # file seconds label
    local f=$1 secs=$2 label=$3 walls=() rss=0
    cat "$f" >/dev/null # warm the page cache
    for _ in $(seq "$runs"); do
        /usr/bin/time -v -o "$dir/time.txt" ./build-release/fetalmon analyze "$f" \
            --json "$dir/out.json" --csv "$dir/out.csv" -q
        local w r
        w=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/time.txt")
        r=$(awk -F': ' '/Maximum resident set size/{print $2}' "$dir/time.txt")
        walls+=("$w")
        [ "$r" -gt "$rss" ] && rss=$r
    done
    local med
    med=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    awk -v l="$label" -v s="$secs" -v w="$med" -v r="$rss" -v n="$runs" 'BEGIN{
        x = (w > 0) ? s / w : 0;
        printf "%-34s wall %.3f s (median of %d)  x-realtime %s  peak RSS %.1f MB\n",
               l, w, n, (w > 0 ? sprintf("%.0f", x) : ">" s/0.01), r / 1024 }'
}

f20=$dir/speed_20min_44k1.wav
[ -s "$f20" ] || ./build-release/fetalmon-synth --fhr-const 140 --minutes 20 --rate 44100 \
    --seed 1 --out "$f20" >/dev/null
echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) cores (one used)"
measure "$f20" 1200 "20 min 44.1 kHz 16-bit mono WAV"
if [ "$do_2h" = 1 ]; then
    f2h=$dir/speed_2h_44k1.wav
    [ -s "$f2h" ] || ./build-release/fetalmon-synth --fhr-const 140 --minutes 120 --rate 44100 \
        --seed 2 --out "$f2h" >/dev/null
    measure "$f2h" 7200 "2 h 44.1 kHz 16-bit mono WAV"
fi
