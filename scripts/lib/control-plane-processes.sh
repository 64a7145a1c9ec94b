#!/usr/bin/env bash
# Starting, watching and stopping the control plane's programs by their pid files. Sourced by
# scripts/control-plane.sh (dir, log, die).

pid_of() { [[ -f "$dir/run/$1.pid" ]] && cat "$dir/run/$1.pid"; }
running() {
  local pid
  pid=$(pid_of "$1") || return 1
  kill -0 "$pid" 2>/dev/null
}

# Polls COMMAND until it succeeds; gives up with the last lines of the named program's log when that
# program has exited (a wrong flag, a port in use), or after a very long while (a hung start).
wait_for() { # wait_for WHAT PROGRAM COMMAND...
  local what=$1 program=$2
  shift 2
  local i
  for ((i = 0; i < 1200; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! running "$program"; then
      tail -n 30 "$dir/logs/$program.log" >&2 || true
      die "$program exited while waiting for $what (log: $dir/logs/$program.log)"
    fi
    sleep 0.5
  done
  die "gave up waiting for $what (logs: $dir/logs)"
}

launch() { # launch NAME COMMAND...: in its own session, its pid in run/NAME.pid
  local name=$1
  shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$dir/run/$name.pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_group PROGRAM...: SIGTERM to all of them at once, SIGKILL to any still there after 10 s.
stop_group() {
  local p pid pids=() n
  for p in "$@"; do
    if running "$p"; then
      pid=$(pid_of "$p")
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      stopped+=("$p")
    fi
    rm -f "$dir/run/$p.pid"
  done
  for ((n = 0; n < 40; n++)); do
    any_alive ${pids[@]+"${pids[@]}"} || break
    sleep 0.25
  done
  for pid in ${pids[@]+"${pids[@]}"}; do kill -KILL "$pid" 2>/dev/null || true; done
}

any_alive() { # any_alive PID...
  local pid
  for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
