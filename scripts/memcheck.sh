#!/usr/bin/env bash
# Runs the specs under valgrind memcheck: the busted runner (a stratrun process, as ctest
# runs it) and every stratrun process the specs start (STRATRUN_BIN points at a wrapper that execs valgrind).
# Each valgrind writes its report to a file; the script fails on any memcheck error or definite leak in any of
# them, and on any spec that fails under valgrind.
#   scripts/memcheck.sh [BUILD_DIR [SPEC ...]]     default: build, and every spec
#
# Every spec/*_spec.lua, both tiers. Two cases of channel_redis_spec assert a rate that a 10-20x slower process
# misses (the strategy's loop while Redis is frozen, a publisher outpacing Redis's output-buffer limit); with
# STRATRUN_TIME_SCALE above 1 they report pending (spec/channel_redis_spec.lua).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
SPECS=("$@")
if [ ${#SPECS[@]} -eq 0 ]; then
  # The longest first. catalogue_slow_spec is left out: it checks the catalogue's harness against a wrong row,
  # through the same code as catalogue_spec, and costs 5 minutes under valgrind.
  SPECS=(catalogue_spec hostile_spec)
  for f in spec/*_spec.lua; do
    name=$(basename "$f" .lua)
    case $name in catalogue_spec|catalogue_slow_spec|hostile_spec) ;; *) SPECS+=("$name") ;; esac
  done
fi
# Processes under valgrind run 10-20 times slower: limits that only catch hangs stretch (spec/helpers.lua).
export STRATRUN_TIME_SCALE=10
# What a process under valgrind cannot show as a native one does (its /proc/PID/cmdline is valgrind's): the specs
# leave those checks out (spec/helpers.lua, M.valgrind).
export STRATRUN_VALGRIND=1

command -v valgrind > /dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 2; }
# Built (or brought up to date) first: the stdlib is compiled into the binary, and a stale one runs old code.
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" > /dev/null
cmake --build "$build" -j "$(nproc)" > /dev/null
bin=$(cd "$build" && pwd)/stratrun
httpd=$(cd "$build" && pwd)/httpd     # the local HTTP server of http_spec and market_rest_slow_spec
smtpd=$(cd "$build" && pwd)/smtpd     # the local SMTP server of mail_spec
cdp=$(cd "$build" && pwd)/cdp         # the DevTools driver of dashboard_slow_spec's browser

work=$(mktemp -d /tmp/stratrun-memcheck.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
# Some specs run stratrun as user nobody (files_spec, store_disk_spec): the wrapper must be reachable and its
# valgrind must be able to write its report.
chmod 755 "$work"
chmod 1777 "$logs"
VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no
    --suppressions="$src/tests/valgrind.supp" --num-callers=30)

# The stratrun of the specs' processes, its children untraced: stratrun never starts a process of its own, and the
# shells a strategy starts with os.execute (chmod, kill) are not this project's code. Traced, each was a valgrind
# started as the bot's user, and one such chmod, run as nobody, once failed store_disk_spec in CI with nothing to
# say why. Its report goes to a file, not stderr, which the specs read. The file's
# name holds the wrapper's start time as well as the PID: PIDs wrap (pid_max is 32768 on CI) over the tens of
# thousands of processes of a run, and a reused name would overwrite an earlier report, or, for a process run as
# nobody, fail to open one that root left.
{
  echo '#!/usr/bin/env bash'
  printf 'exec'
  printf ' %q' "${VG[@]}" --trace-children=no
  printf ' %s' "\"--log-file=$logs/child.\${EPOCHREALTIME/[.,]/}.%p.log\""
  printf ' %q' "$bin"
  printf ' "$@"\n'
} > "$work/stratrun"
chmod +x "$work/stratrun"

# run_spec NAME: the busted runner under valgrind, at most 30 minutes and 8 GB of address space per process (a
# runaway allocation fails the spec instead of starving the machine). The shells it starts run natively (they
# start the wrapper, which is valgrind again), so every stratrun process is checked and nothing else.
run_spec() {
  local name=$1
  local t0=$SECONDS
  ulimit -S -v 8388608     # soft: chromium, which the report spec starts, lifts it (it reserves far more)
  if STRATRUN_BIN="$work/stratrun" STRATRUN_SOURCE="$src" STRATRUN_TEST_TMP="$work/tmp/$name" \
     STRATRUN_HTTPD="$httpd" STRATRUN_SMTPD="$smtpd" STRATRUN_CDP="$cdp" timeout --foreground -k 10 1800 "${VG[@]}" --trace-children=yes --trace-children-skip='*/sh,*/dash,*/bash' --log-file="$logs/runner-$name.${EPOCHREALTIME/[.,]/}.%p.log" \
     "$bin" --data-dir "$work/home/$name" --id spec-runner "$(command -v busted)" --ignore-lua -C "$src" \
     -o TAP "$src/spec/$name.lua" > "$work/$name.out" 2>&1; then
    echo "memcheck: $name passed in $((SECONDS - t0)) s"
  else
    echo "memcheck: $name FAILED under valgrind in $((SECONDS - t0)) s (output: $work/$name.out)"
    # The failing cases with busted's message under each (the CI log is often all there is to read).
    awk '/^not ok/ {show = 1; n = 0} /^ok / {show = 0} show && n++ < 40' "$work/$name.out" | head -120 || true
    return 1
  fi
}

# One spec per core at a time, the next one starting as soon as any finishes (the catalogue's two, first, are the
# longest).
status=0
running=0
for spec in "${SPECS[@]}"; do
  if [ $running -ge "$(nproc)" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_spec "$spec" &
  running=$((running + 1))
done
while [ $running -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done

# Every report: its summary (errors, definite leaks), and error headers, which a process killed before its
# summary (kill -9 in a spec, a timeout) still has.
nlogs=$(ls "$logs" | wc -l)
bad=$(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|^==[0-9]+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)' \
      "$logs"/*.log 2>/dev/null || true)
if [ -n "$bad" ]; then
  echo "memcheck: errors in $(echo "$bad" | wc -l) of $nlogs processes:"
  for f in $bad; do
    echo "--- $f"
    grep -E '^==[0-9]+== ' "$f" | grep -vE '== (Memcheck|Copyright|Using Valgrind|Command|Parent PID|$)' | head -60
  done
  status=1
else
  echo "memcheck: $nlogs processes checked (the runners and every stratrun they started): no errors, no definite leaks"
fi
if [ $status -eq 0 ]; then rm -rf "$work"; else echo "memcheck: kept $work"; fi
exit $status
