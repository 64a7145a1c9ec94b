#!/usr/bin/env bash
# Static checks: ESLint (typescript-eslint), Prettier, yamllint, secretlint, and a strict type check
# of the tests and scripts. Same checks as the pre-commit hook, over the whole tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v yamllint >/dev/null 2>&1; then
  echo "lint: yamllint is not installed (Debian/Ubuntu: apt-get install yamllint; macOS: brew install yamllint)" >&2
  exit 1
fi

echo "lint: eslint";     npx --no-install eslint --max-warnings 0 .
echo "lint: prettier";   npx --no-install prettier --check --log-level warn .
echo "lint: yamllint";   yamllint --strict .
echo "lint: secretlint"; npx --no-install secretlint --maskSecrets '**/*'
echo "lint: typecheck";  npx --no-install tsc -p tsconfig.json
echo "lint: ok"
