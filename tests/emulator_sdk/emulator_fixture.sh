#!/usr/bin/env bash
# Starts or stops an instasent-emulator in the background for a CTest fixture.
#
#   emulator_fixture.sh start STATE_DIR SHAPE BINARY
#       Starts BINARY --port 0 --response-shape SHAPE with nohup, writes STATE_DIR/pid and
#       STATE_DIR/port, and waits until GET /_emulator/health answers 200.
#   emulator_fixture.sh stop STATE_DIR
#       Stops the emulator whose pid is in STATE_DIR/pid (SIGTERM, then SIGKILL after 10 s), waits
#       for it to exit, and fails if it wrote a sanitizer report to STATE_DIR/stderr.
#
# The emulator's stdout and stderr go to STATE_DIR/stdout and STATE_DIR/stderr, never to the
# caller's, so that CTest does not wait for the background process to close them.
set -euo pipefail

usage() {
  echo "usage: emulator_fixture.sh start STATE_DIR SHAPE BINARY | stop STATE_DIR" >&2
  exit 2
}

log() { echo "emulator_fixture: $*" >&2; }

# shellcheck source=tests/support/process.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/process.sh"

# One GET of /_emulator/health on 127.0.0.1:PORT; succeeds when the answer is 200.
health_ok() {
  local port="$1" status_line
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${port}/_emulator/health" 2>/dev/null
    return
  fi
  # No curl: bash's /dev/tcp.
  (
    exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
    printf 'GET /_emulator/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 2 status_line <&3 || exit 1
    [[ "$status_line" == "HTTP/1."?" 200"* ]]
  ) 2>/dev/null
}

start() {
  local state_dir="$1" shape="$2" binary="$3"
  [[ -x "$binary" ]] || { log "not an executable: $binary"; return 1; }
  mkdir -p "$state_dir"
  # An emulator left over from an interrupted run of this fixture goes first.
  stop_pid_file "$state_dir/pid"
  rm -f "$state_dir/port" "$state_dir/stdout" "$state_dir/stderr"

  nohup "$binary" --port 0 --response-shape "$shape" \
    </dev/null >"$state_dir/stdout" 2>"$state_dir/stderr" &
  local pid=$!
  echo "$pid" >"$state_dir/pid"

  # The first line of its stdout is the port it chose.
  local port="" i
  for ((i = 0; i < 100; i++)); do
    if [[ -s "$state_dir/stdout" ]]; then
      IFS= read -r port <"$state_dir/stdout" || true
      [[ "$port" =~ ^[0-9]+$ ]] && break
      port=""
    fi
    if ! alive "$pid"; then
      log "the emulator exited during start-up:"
      cat "$state_dir/stderr" >&2 || true
      rm -f "$state_dir/pid"
      return 1
    fi
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    log "the emulator printed no port within 10 s"
    stop_pid_file "$state_dir/pid"
    return 1
  fi

  for ((i = 0; i < 100; i++)); do
    if health_ok "$port"; then
      echo "$port" >"$state_dir/port"
      echo "emulator_fixture: pid $pid, http://127.0.0.1:$port/v1, response shape $shape"
      return 0
    fi
    alive "$pid" || break
    sleep 0.1
  done
  log "the emulator on port $port did not answer /_emulator/health"
  cat "$state_dir/stderr" >&2 || true
  stop_pid_file "$state_dir/pid"
  return 1
}

(($# >= 2)) || usage
case "$1" in
  start)
    (($# == 4)) || usage
    start "$2" "$3" "$4"
    ;;
  stop)
    stop_pid_file "$2/pid"
    rm -f "$2/port"
    # Under the sanitizers, a report the emulator wrote (at exit, for leaks) fails the fixture.
    if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$2/stderr" 2>/dev/null; then
      log "the emulator reported errors:"
      cat "$2/stderr" >&2
      exit 1
    fi
    ;;
  *) usage ;;
esac
