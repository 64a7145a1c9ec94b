#!/usr/bin/env bash
# A Docker engine for the container tests: `start` makes sure one answers, `stop` stops the one that
# `start` started (never an engine that was already running). CI runs both (.ci/run); by hand:
#   sudo bash scripts/docker-engine.sh start   # ... run the tests ...   sudo bash scripts/docker-engine.sh stop
#
# start: when no engine answers on /var/run/docker.sock, installs Debian's docker.io (and debootstrap,
# which scripts/build-images.sh uses for the base image) if missing, then starts dockerd as root with
# the overlay2 storage driver, or, only if overlay2 cannot start, with vfs (it works everywhere but
# copies every layer: image builds become many times slower). Debian's engine has only the legacy
# builder (no BuildKit), which is what scripts/build-images.sh uses.
# The engine's state lives in Docker's default /var/lib/docker, so the built images stay cached there
# between runs; its log and pid file are in $NOS_DOCKER_RUN_DIR (default /run/nos-docker).
set -euo pipefail

run_dir="${NOS_DOCKER_RUN_DIR:-/run/nos-docker}"
pid_file="$run_dir/dockerd.pid"
log_file="$run_dir/dockerd.log"

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

engine_answers() { command -v docker >/dev/null 2>&1 && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ "$(id -u)" -eq 0 ]] || die "installing ${missing[*]} needs root (apt-get)"
  log "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Starts dockerd with one storage driver; returns non-zero when it does not answer within 60 s.
try_driver() {
  local driver=$1
  log "starting dockerd --storage-driver $driver (log: $log_file)"
  # Own session (setsid): the engine outlives this script, and `stop` can end exactly its process group.
  # It keeps none of the caller's other open files: a lock the caller holds (flock) would otherwise stay
  # held for as long as the engine runs.
  (
    for fd in /proc/self/fd/*; do
      fd=${fd##*/}
      [[ "$fd" -gt 2 ]] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid dockerd --storage-driver "$driver" >"$log_file" 2>&1 </dev/null
  ) &
  echo $! >"$pid_file"
  for _ in $(seq 1 60); do
    if engine_answers; then
      log "engine $(docker version --format '{{.Server.Version}}') up with $driver"
      return 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then break; fi
    sleep 1
  done
  log "dockerd with $driver did not come up; last lines of its log:"
  tail -n 15 "$log_file" >&2 || true
  stop_started
  return 1
}

stop_started() {
  [[ -f "$pid_file" ]] || return 0
  local pid
  pid=$(cat "$pid_file")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "dockerd did not stop in 30 s: killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
  fi
  # dockerd stops the containerd it started; end any child left in its process group.
  kill -TERM -- "-$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

case "${1:-}" in
  start)
    if engine_answers; then
      log "an engine already answers ($(docker version --format '{{.Server.Version}}')): using it, it is not ours to stop"
      exit 0
    fi
    install_packages
    command -v docker >/dev/null 2>&1 || die "no docker CLI after installing docker.io"
    [[ "$(id -u)" -eq 0 ]] || die "dockerd must be started as root"
    mkdir -p "$run_dir"
    if try_driver overlay2; then exit 0; fi
    log "overlay2 is not available here: falling back to the vfs storage driver (every layer is a full copy: image builds take many times longer, and disk use grows)"
    try_driver vfs || die "dockerd started with neither overlay2 nor vfs (see $log_file)"
    ;;
  stop) stop_started ;;
  status)
    if engine_answers; then docker version --format 'engine {{.Server.Version}}'; else echo 'no engine answers'; exit 1; fi
    ;;
  *)
    echo "Usage: scripts/docker-engine.sh start|stop|status" >&2
    exit 2
    ;;
esac
