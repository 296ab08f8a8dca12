#!/usr/bin/env bash
# Proof under load: the main job (scripts/lifecycle.sh), then the test command (scripts/test.sh),
# each with N busy-loop processes beside them, as on a laptop doing other work or a shared CI runner.
#
#   scripts/under-load.sh [--busy N] [--max-seconds S] [--skip-main] [--skip-tests] [test.sh args...]
#
#   --busy N         busy-loop processes (default: nproc, one per core)
#   --max-seconds S  each busy loop stops by itself after S seconds (default 7200), and all of them are
#                    killed when this script exits, however it exits
#   --skip-main / --skip-tests   run only one of the two
#   anything else    goes to scripts/test.sh (and so to pytest), e.g. tests/integration tests/reliability
#
# Prints the wall time of each command and one PASSED/FAILED line; exits non-zero if either failed.
set -euo pipefail
cd "$(dirname "$0")/.."

busy=$(nproc)
max_seconds=7200
run_main=1
run_tests=1
test_args=()
while (($#)); do
  case "$1" in
    --busy) busy=${2:?--busy needs a number}; shift 2 ;;
    --busy=*) busy=${1#*=}; shift ;;
    --max-seconds) max_seconds=${2:?--max-seconds needs a number}; shift 2 ;;
    --max-seconds=*) max_seconds=${1#*=}; shift ;;
    --skip-main) run_main=0; shift ;;
    --skip-tests) run_tests=0; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) test_args+=("$1"); shift ;;
  esac
done
[[ "$busy" =~ ^[0-9]+$ ]] || { echo "--busy must be a whole number, got '$busy'" >&2; exit 2; }
[[ "$max_seconds" =~ ^[0-9]+$ ]] || { echo "--max-seconds must be a whole number, got '$max_seconds'" >&2; exit 2; }

busy_pids=()
command_pid=""
stop_command() {  # on Ctrl-C or TERM: stop the command being measured too
  if [[ -n "$command_pid" ]]; then
    kill -TERM "$command_pid" 2>/dev/null || true
    wait "$command_pid" 2>/dev/null || true
  fi
}
stop_busy() {
  local pid
  for pid in "${busy_pids[@]}"; do
    kill "$pid" 2>/dev/null || true  # timeout(1) passes the signal on to its busy loop
  done
  for pid in "${busy_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  busy_pids=()
}
trap stop_busy EXIT
trap 'stop_command; exit 130' INT
trap 'stop_command; exit 143' TERM

# Bootstrap first, outside the measured time and without load, as a user would have done already.
scripts/bootstrap.sh

for ((i = 0; i < busy; i++)); do
  timeout "$max_seconds" sh -c 'while :; do :; done' &
  busy_pids+=($!)
done
echo "== under load: $busy busy-loop process(es) on $(nproc) core(s), each stopping after at most ${max_seconds} s"

main_result="skipped"
tests_result="skipped"
status=0

timed() {  # timed NAME COMMAND...: run it, print its wall time, set $result to PASSED/FAILED (N s)
  local name=$1 started ended rc
  shift
  echo "== $name: $*"
  started=$(date +%s)
  # In the background and waited for, so that a signal to this script is handled at once.
  "$@" &
  command_pid=$!
  set +e
  wait "$command_pid"
  rc=$?
  set -e
  command_pid=""
  ended=$(date +%s)
  if ((rc == 0)); then result="PASSED"; else result="FAILED (exit $rc)"; status=1; fi
  result="$result in $((ended - started)) s"
  echo "== $name: $result"
}

if ((run_main)); then
  timed "main job" scripts/lifecycle.sh
  main_result=$result
fi
if ((run_tests)); then
  timed "test command" scripts/test.sh "${test_args[@]}"
  tests_result=$result
fi
stop_busy

echo "== under load ($busy busy loops): main job $main_result; test command $tests_result" \
  "-> $( ((status == 0)) && echo PASSED || echo FAILED)"
exit "$status"
