#!/usr/bin/env bash
# First run of the docker compose stack in one command: creates .env with a random Grafana admin
# password if there is none (.env is git-ignored, so no secret is ever committed), then builds and
# starts the stack and waits until every service is healthy. Later runs reuse the same password.
# The image tags of docker-compose.yaml are variables: every run copies the pins of versions.env into
# a marked block of .env, so that plain `docker compose` commands afterwards find them too.
#
# Usage: scripts/compose-up.sh [extra `docker compose up` arguments]   (e.g. --profile traffic)
# COMPOSE_FILE, COMPOSE_PROJECT_NAME and the other Compose variables apply as usual.
# NOS_ENGINE names the engine's command (default docker; podman: see docs/compose.md), DOCKER_HOST its
# socket, as for every Docker client.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

env_file=.env
engine=${NOS_ENGINE:-docker}
compose=("$engine" compose)
if ! "$engine" compose version >/dev/null 2>&1; then
  if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
  else
    echo "compose-up: neither '$engine compose' nor 'docker-compose' works: install Docker with the Compose plugin" >&2
    exit 1
  fi
fi

# What to do when images cannot be pulled, printed instead of leaving the user with raw pull errors.
registry_hint() {
  cat >&2 <<HINT

compose-up: the images could not be pulled from their registry (Docker Hub). Nothing was started
and .env was not written. Depending on the error above:
  - rate limit or "unauthorized":   docker login
  - a registry mirror:              "registry-mirrors" in /etc/docker/daemon.json, then restart the engine
  - an HTTP(S) proxy:               HTTPS_PROXY for the engine (systemd: a drop-in for docker.service),
                                    not only for your shell; builds also need it (--build-arg HTTPS_PROXY)
  - no registry at all:             load the images listed by 'docker compose config --images'
                                    (docker load) and run this again
HINT
}
looks_like_registry_error() {
  grep -qiE 'pull access denied|toomanyrequests|unauthorized|manifest unknown|failed to resolve|no such host|dial tcp|i/o timeout|tls handshake|connection refused|server misbehaving|registry-1\.docker\.io|error pulling|failed to (copy|fetch|do request)' "$1"
}

have_password=false
if grep -qs '^GRAFANA_ADMIN_PASSWORD=.' "$env_file" || [[ -n "${GRAFANA_ADMIN_PASSWORD:-}" ]]; then
  have_password=true
else
  # Kept in the environment until the images are there: a failed first run writes nothing.
  GRAFANA_ADMIN_PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  export GRAFANA_ADMIN_PASSWORD
fi

# The pins docker-compose.yaml substitutes, exported for this run (a variable already in the
# environment wins, as it would over .env).
pins=""
while IFS='=' read -r key value; do
  grep -qF "\${$key:" docker-compose.yaml || continue
  pins+="$key=$value"$'\n'
  [[ -n "${!key:-}" ]] || export "$key=$value"
done < <(grep -E '^[A-Z][A-Z0-9_]*=' versions.env)
pins=${pins%$'\n'}
pins_begin='# >>> pins of versions.env, rewritten by scripts/compose-up.sh: edit versions.env instead'
pins_end='# <<< pins of versions.env'

output=$(mktemp)
trap 'rm -f "$output"' EXIT
# Pull what is missing first (images that are built come with the build), so that an unreachable
# registry stops the run before anything is created.
if ! "${compose[@]}" pull --ignore-buildable --policy missing --quiet 2>&1 | tee "$output"; then
  looks_like_registry_error "$output" && registry_hint
  exit 1
fi

umask 077
{
  if [[ -f "$env_file" ]]; then sed "\\|^$pins_begin\$|,\\|^$pins_end\$|d" "$env_file"; fi
  if [[ "$have_password" == false ]]; then printf 'GRAFANA_ADMIN_PASSWORD=%s\n' "$GRAFANA_ADMIN_PASSWORD"; fi
  printf '%s\n%s\n%s\n' "$pins_begin" "$pins" "$pins_end"
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
if [[ "$have_password" == false ]]; then
  echo "compose-up: wrote a random Grafana admin password to $env_file (git-ignored)"
fi

if ! "${compose[@]}" up --detach --build --wait "$@" 2>&1 | tee "$output"; then
  # A service image's base (the Dockerfiles' FROM) is pulled by the build.
  if looks_like_registry_error "$output"; then
    registry_hint
    echo "compose-up: (.env was written: the next run reuses its password; remove what started with 'docker compose down')" >&2
  fi
  exit 1
fi

password=${GRAFANA_ADMIN_PASSWORD:-$(sed -n 's/^GRAFANA_ADMIN_PASSWORD=//p' "$env_file" | tail -n 1)}
cat <<EOF

Up and healthy.
  Grafana      http://localhost:3000   user admin, password $password
  api-gateway  curl -i http://localhost:8080/user/123
  Prometheus   http://localhost:9090
  Traffic      docker compose --profile traffic up -d
  Walkthrough  docs/walkthrough.md
EOF
