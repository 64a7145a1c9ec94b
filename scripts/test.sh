#!/usr/bin/env bash
# The whole test suite: static checks, the build, then every test under Node's built-in runner.
# Run it as `npm test` (which puts the pinned Node first on PATH).
# Tests that need a real component (otelcol, prometheus, helm, docker-compose) find it in
# $HOME/.cache/node-observability-stack/bin (scripts/install-tools.sh builds them); the compose test also
# needs a Docker engine (scripts/docker-engine.sh) and the local images (scripts/build-images.sh). Under
# CI=true a missing one fails its tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "test: node $(node --version)"
npm run --silent lint
npm run --silent build
# Files run in parallel (2 at a time: the suites start real processes); tests within a file in order.
node --test --test-concurrency=2 --test-reporter=spec "${@:-test/**/*.test.ts}"
