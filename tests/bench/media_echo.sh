#!/bin/sh
# Media-plane benchmark: dialtone running the echo workflow on one core, the Twilio Media
# Streams load tool on the other, for each number of concurrent calls.
#   tests/bench/media_echo.sh [BUILD_DIR] [SECONDS] [CALLS...]
# Prints per run: frames sent/received/lost, p50/p99/max echo latency, server CPU %, RSS and
# RSS per call (RSS growth over the idle server, divided by the calls). Figures only: nothing here passes or fails.
set -eu
build=${1:-build}
seconds=${2:-30}
# (a shift past the end would end the script under set -e)
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
calls=${*:-500 1000 2000 4000}
bin="$build/dialtone"
load="$build/tests/bench/twilio_load"
[ -x "$bin" ] && [ -x "$load" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

for n in $calls; do
  log=$(mktemp)
  data=$(mktemp -d)
  taskset -c 0 "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --log-level info \
    --max-connections $((n + 100)) --watch false 2>"$log" &
  pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*msg=listening addr=127.0.0.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$log" >&2; kill "$pid"; exit 1; }
  base_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
  hz=$(getconf CLK_TCK)
  taskset -c 1 "$load" 127.0.0.1 "$port" /dev/twilio-media/echo "$n" "$seconds" >"$log.load" &
  lpid=$!
  sleep 3   # connections open and streams start; measure the steady state
  t0=$(ticks); s0=$(date +%s.%N)
  sleep $((seconds - 6))
  t1=$(ticks); s1=$(date +%s.%N)
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  wait "$lpid"
  cpu=$(echo "$t0 $t1 $s0 $s1 $hz" | awk '{printf "%.1f", 100 * ($2 - $1) / $5 / ($4 - $3)}')
  per_call=$(echo "$rss_kb $base_kb $n" | awk '{printf "%.1f", ($1 - $2) / $3}')
  echo "$(cat "$log.load") server_cpu_pct=$cpu server_rss_mib=$((rss_kb / 1024)) rss_per_call_kib=$per_call"
  kill -TERM "$pid"
  wait "$pid" || true
  rm -rf "$log" "$log.load" "$data"
done
