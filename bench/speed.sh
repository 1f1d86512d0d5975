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
    local f=$1 secs=$2 label=$3 walls=() cpus=() rss=0
    cat "$f" >/dev/null # warm the page cache
    for _ in $(seq "$runs"); do
        /usr/bin/time -v -o "$dir/time.txt" ./build-release/fetalmon analyze "$f" \
            --json "$dir/out.json" --csv "$dir/out.csv" -q
        local w r c
        w=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/time.txt")
        r=$(awk -F': ' '/Maximum resident set size/{print $2}' "$dir/time.txt")
        c=$(awk -F': ' '/User time|System time/{s+=$2} END{print s}' "$dir/time.txt")
        walls+=("$w")
        cpus+=("$c")
        [ "$r" -gt "$rss" ] && rss=$r
    done
    local med cmed
    med=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    cmed=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    awk -v l="$label" -v s="$secs" -v w="$med" -v c="$cmed" -v r="$rss" -v n="$runs" 'BEGIN{
        printf "%-32s wall %.2f s = %s x realtime | cpu %.2f s = %s x | peak RSS %.1f MB (median of %d)\n",
               l, w, (w > 0 ? sprintf("%.0f", s / w) : ">" s / 0.01), c,
               (c > 0 ? sprintf("%.0f", s / c) : ">" s / 0.01), r / 1024, n }'
}

f20=$dir/speed_20min_44k1.wav
[ -s "$f20" ] || ./build-release/fetalmon-synth --fhr-const 140 --minutes 20 --rate 44100 \
    --seed 1 --out "$f20" >/dev/null
echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(nproc) cores (one used);" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) (wall time suffers when the machine is busy)"
measure "$f20" 1200 "20 min 44.1 kHz 16-bit mono WAV"
if [ "$do_2h" = 1 ]; then
    f2h=$dir/speed_2h_44k1.wav
    [ -s "$f2h" ] || ./build-release/fetalmon-synth --fhr-const 140 --minutes 120 --rate 44100 \
        --seed 2 --out "$f2h" >/dev/null
    measure "$f2h" 7200 "2 h 44.1 kHz 16-bit mono WAV"
fi
