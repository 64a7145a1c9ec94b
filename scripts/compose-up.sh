#!/usr/bin/env bash
# First run of the docker compose stack in one command: creates .env with a random Grafana admin
# password if there is none (.env is git-ignored, so no secret is ever committed), then builds and
# starts the stack and waits until every service is healthy. Later runs reuse the same password.
#
# Usage: scripts/compose-up.sh [extra `docker compose up` arguments]   (e.g. --profile traffic)
# COMPOSE_FILE, COMPOSE_PROJECT_NAME and the other Compose variables apply as usual.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

env_file=.env
compose=(docker compose)
if ! docker compose version >/dev/null 2>&1; then
  if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
  else
    echo "compose-up: neither 'docker compose' nor 'docker-compose' works: install Docker with the Compose plugin" >&2
    exit 1
  fi
fi

if ! grep -qs '^GRAFANA_ADMIN_PASSWORD=.' "$env_file" && [[ -z "${GRAFANA_ADMIN_PASSWORD:-}" ]]; then
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  umask 077
  printf 'GRAFANA_ADMIN_PASSWORD=%s\n' "$password" >>"$env_file"
  echo "compose-up: wrote a random Grafana admin password to $env_file (git-ignored)"
fi

"${compose[@]}" up --detach --build --wait "$@"

password=${GRAFANA_ADMIN_PASSWORD:-$(sed -n 's/^GRAFANA_ADMIN_PASSWORD=//p' "$env_file" | tail -n 1)}
cat <<EOF

Up and healthy.
  Grafana      http://localhost:3000   user admin, password $password
  api-gateway  curl -i http://localhost:8080/user/123
  Prometheus   http://localhost:9090
  Traffic      docker compose --profile traffic up -d
  Walkthrough  docs/walkthrough.md
EOF
