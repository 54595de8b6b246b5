# shellcheck shell=bash
# Process helpers shared by the test scripts that start servers in the background.
# The sourcing script defines log().

# True when the process is still running and not a zombie.
alive() {
  local pid="$1" state
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie (exited, not yet reaped by its new parent) counts as stopped.
  [[ -r "/proc/$pid/stat" ]] || return 0
  state="$(cat "/proc/$pid/stat" 2>/dev/null || true)"
  state="${state##*) }"
  [[ -n "$state" && "${state:0:1}" != Z ]]
}

# Stops the process whose pid is in `pid_file` (TERM, then KILL), and removes the file.
stop_pid_file() {
  local pid_file="$1" pid
  [[ -f "$pid_file" ]] || return 0
  pid="$(cat "$pid_file")"
  rm -f "$pid_file"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 100; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid did not stop after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid is still running"
  return 1
}
