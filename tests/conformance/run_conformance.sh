#!/usr/bin/env bash
# The openapi_conformance test: the SDK's real requests checked by an independent OpenAPI
# validator. Starts an emulator, starts Prism as a validating proxy in front of it, runs
# instasent_conformance_check through Prism, and stops both.
#
#   run_conformance.sh PRISM SPEC EMULATOR CHECK STATE_DIR
#
# PRISM is node_modules/.bin/prism (started directly, not through npx, so that the pid we stop is
# Prism's); SPEC the OpenAPI file; EMULATOR the instasent-emulator binary; CHECK the
# instasent_conformance_check binary; STATE_DIR a directory for pids, ports and logs.
#
# Exits 77 (the test's SKIP_RETURN_CODE) when the spec, Node.js or Prism is missing, so that a
# machine without them skips this test instead of failing it; .ci/run installs Prism and sets
# INSTASENT_REQUIRE_CONFORMANCE=1, which turns a skip into a failure.
set -euo pipefail

readonly SKIP=77

log() { echo "openapi_conformance: $*"; }
skip() {
  if [[ "${INSTASENT_REQUIRE_CONFORMANCE:-0}" == 1 ]]; then
    log "FAILED (INSTASENT_REQUIRE_CONFORMANCE=1): $*"
    exit 1
  fi
  log "SKIPPED: $*"
  exit "$SKIP"
}

(($# == 5)) || {
  echo "usage: run_conformance.sh PRISM SPEC EMULATOR CHECK STATE_DIR" >&2
  exit 2
}
prism="$1" spec="$2" emulator="$3" check="$4" state_dir="$5"
fixture="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tools/emulator/fixture" && pwd)/emulator-fixture.sh"

[[ -f "$spec" ]] || skip "no OpenAPI spec at $spec"
command -v node >/dev/null 2>&1 || skip "Node.js (node) is not installed"
[[ -x "$prism" ]] || skip "Prism is not installed at $prism (.ci/run installs it with npm)"

mkdir -p "$state_dir"
prism_pid_file="$state_dir/prism.pid"
prism_log="$state_dir/prism.log"

# alive and stop_pid_file
# shellcheck source=tools/emulator/fixture/emulator-fixture.sh
source "$fixture"

stop_prism() { stop_pid_file "$prism_pid_file"; }

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local status=$?
  stop_prism
  # The fixture's stop fails when the emulator wrote a sanitizer report: so does this test.
  bash "$fixture" stop "$state_dir/emulator" || status=1
  exit "$status"
}
# A Prism left over from an interrupted run goes first.
stop_prism
trap cleanup EXIT

bash "$fixture" start "$state_dir/emulator" "$emulator" --response-shape documented
emulator_port="$(cat "$state_dir/emulator/port")"

# Port 0: Prism takes a free port and names it in its "listening on" line.
nohup "$prism" proxy -h 127.0.0.1 -p 0 "$spec" "http://127.0.0.1:${emulator_port}" \
  </dev/null >"$prism_log" 2>&1 &
prism_pid=$!
echo "$prism_pid" >"$prism_pid_file"

prism_port=""
for ((i = 0; i < 600; i++)); do
  if line="$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$prism_log" 2>/dev/null)"; then
    prism_port="${line##*:}"
    break
  fi
  if ! alive "$prism_pid"; then
    log "Prism exited during start-up:"
    cat "$prism_log" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$prism_port" ]]; then
  log "Prism did not start listening within 60 s:"
  tail -n 40 "$prism_log" >&2
  exit 1
fi

# Listening is not always answering yet: wait for a first HTTP answer (any status).
answered=0
for ((i = 0; i < 100; i++)); do
  if command -v curl >/dev/null 2>&1; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
      "http://127.0.0.1:${prism_port}/v1/project/proj_demo/datasource/ds_demo/stream" || true)"
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]] && answered=1
  elif (
    exec 3<>"/dev/tcp/127.0.0.1/${prism_port}" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 5 status_line <&3 || exit 1
    [[ "$status_line" == HTTP/* ]]
  ) 2>/dev/null; then
    answered=1
  fi
  ((answered)) && break
  sleep 0.1
done
if ((!answered)); then
  log "Prism on port $prism_port does not answer:"
  tail -n 40 "$prism_log" >&2
  exit 1
fi
log "Prism (pid $prism_pid) on port $prism_port, proxying to the emulator on port $emulator_port"

status=0
"$check" "http://127.0.0.1:${prism_port}/v1" || status=$?
if ((status != 0)); then
  log "Prism's log of the violations:"
  grep -E 'Violation|error' "$prism_log" | tail -n 40 >&2 || true
fi
exit "$status"
