#!/bin/sh
# Starts a service: `nos-start dist/server.js` (the Dockerfiles' CMD and `npm start`), from the
# service's directory. TELEMETRY_MODE chooses how OpenTelemetry gets into the process:
#   tuned      (default) this project's package, preloaded: node --import @nos/telemetry/register
#   stock      the stock zero-code setup as the OpenTelemetry Operator injects it, and nothing of
#              this project's: NODE_OPTIONS="--require @opentelemetry/auto-instrumentations-node/register"
#   stock-esm  stock plus the ESM loader hook that @opentelemetry/instrumentation prescribes for
#              ES-module applications (--experimental-loader=@opentelemetry/instrumentation/hook.mjs)
# What each mode emits and costs: docs/telemetry-cost.md. `exec` replaces this shell with node, so
# in a container node is PID 1 and receives SIGTERM itself.
set -eu

mode=$(printf '%s' "${TELEMETRY_MODE:-tuned}" | tr '[:upper:]' '[:lower:]')
case "$mode" in
  tuned)
    exec node --import @nos/telemetry/register "$@"
    ;;
  stock | stock-esm)
    # The stock setup knows nothing of this project: give it what the tuned package derives itself.
    # The same defaults as services/telemetry/src/otel-env.ts (checked by the tests), and the
    # service's name from its package.json ("@nos/api-gateway" -> "api-gateway").
    export OTEL_EXPORTER_OTLP_PROTOCOL="${OTEL_EXPORTER_OTLP_PROTOCOL:-grpc}"
    export OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="${OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT:-1024}"
    if [ -z "${OTEL_METRIC_EXPORT_INTERVAL:-}" ]; then
      export OTEL_METRIC_EXPORT_INTERVAL=10000
      export OTEL_METRIC_EXPORT_TIMEOUT="${OTEL_METRIC_EXPORT_TIMEOUT:-5000}"
    fi
    if [ -z "${OTEL_SERVICE_NAME:-}" ] && [ -f package.json ]; then
      name=$(sed -n 's/^  "name": "\(@[^/"]*\/\)\{0,1\}\([^"]*\)",\{0,1\}$/\2/p' package.json)
      [ -n "$name" ] && export OTEL_SERVICE_NAME="$name"
    fi
    preload="--require @opentelemetry/auto-instrumentations-node/register"
    if [ "$mode" = stock-esm ]; then
      preload="--experimental-loader=@opentelemetry/instrumentation/hook.mjs $preload"
    fi
    export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }$preload"
    exec node "$@"
    ;;
  *)
    echo "TELEMETRY_MODE must be one of tuned, stock, stock-esm (got \"${TELEMETRY_MODE:-}\")" >&2
    exit 1
    ;;
esac
