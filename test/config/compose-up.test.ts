// scripts/compose-up.sh, the quick start, with a stub engine command on PATH that logs its arguments:
// an unreachable registry gives a hint and leaves nothing behind (no .env, nothing started); a
// first run writes one random password and reuses it; NOS_ENGINE picks the engine's command.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../support/versions.ts';

const root = mkdtempSync(join(tmpdir(), 'nos-compose-up-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** What the stub's `compose pull` prints on stderr when it fails, as the engine words it. */
const UNREACHABLE =
  'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  calls: string[];
  /** The checkout's .env afterwards (undefined: none). */
  env: string | undefined;
}

/** The block compose-up.sh keeps in .env: the pins docker-compose.yaml substitutes, from versions.env. */
const PINS = (() => {
  const compose = readFileSync(join(repoRoot, 'docker-compose.yaml'), 'utf8');
  const lines = readFileSync(join(repoRoot, 'versions.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l) && compose.includes(`\${${l.split('=')[0] ?? ''}:`));
  return [
    '# >>> pins of versions.env, rewritten by scripts/compose-up.sh: edit versions.env instead',
    ...lines,
    '# <<< pins of versions.env',
    '',
  ].join('\n');
})();

let runs = 0;
/**
 * Runs a copy of compose-up.sh in a checkout of its own (the script writes .env next to its scripts/
 * folder), with `engine` as a stub whose `compose pull` fails with `pullError` when given.
 */
function composeUp(
  options: { pullError?: string; engine?: string; env?: string; vars?: NodeJS.ProcessEnv } = {},
): Promise<Run> {
  const checkout = mkdtempSync(join(root, `checkout-${runs++}-`));
  mkdirSync(join(checkout, 'scripts'));
  copyFileSync(
    join(repoRoot, 'scripts', 'compose-up.sh'),
    join(checkout, 'scripts', 'compose-up.sh'),
  );
  for (const file of ['versions.env', 'docker-compose.yaml'])
    copyFileSync(join(repoRoot, file), join(checkout, file));
  if (options.env !== undefined) writeFileSync(join(checkout, '.env'), options.env);
  const bin = join(checkout, 'bin');
  mkdirSync(bin);
  const log = join(checkout, 'calls.log');
  const engine = options.engine ?? 'docker';
  writeFileSync(
    join(bin, engine),
    `#!/bin/sh
echo "$(basename "$0") $*" >> "${log}"
case "$*" in
  "compose pull"*) ${options.pullError ? `echo '${options.pullError}' >&2; exit 1` : 'exit 0'} ;;
esac
exit 0
`,
  );
  chmodSync(join(bin, engine), 0o755);
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    HOME: checkout,
    ...options.vars,
  };
  return new Promise((resolve) => {
    execFile(
      'bash',
      [join(checkout, 'scripts', 'compose-up.sh')],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const envFile = join(checkout, '.env');
        resolve({
          code: error ? Number(error.code ?? 1) : 0,
          stdout,
          stderr,
          calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [],
          env: existsSync(envFile) ? readFileSync(envFile, 'utf8') : undefined,
        });
      },
    );
  });
}

describe('scripts/compose-up.sh', () => {
  it('an unreachable registry: the error, a hint what to do, exit 1, no .env and nothing started', async () => {
    const run = await composeUp({ pullError: UNREACHABLE });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const output = run.stdout + run.stderr;
    assert.match(output, /no such host/, 'the engine’s own error is shown');
    for (const hint of [/docker login/, /registry-mirrors/, /HTTPS_PROXY/, /config --images/])
      assert.match(output, hint);
    assert.match(output, /\.env was not written/);
    assert.equal(run.env, undefined, 'no .env');
    assert.ok(
      run.calls.every((call) => !call.startsWith('docker compose up')),
      `nothing started: ${run.calls.join(' | ')}`,
    );
  });

  it('a pull failure that is not the registry: exit 1 without the registry hint', async () => {
    const run = await composeUp({ pullError: 'service "grafana" refers to undefined volume' });
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stdout + run.stderr, /docker login/);
    assert.equal(run.env, undefined);
  });

  it('a first run: one random password in .env, then up --detach --build --wait, the login printed', async () => {
    const run = await composeUp();
    assert.equal(run.code, 0, run.stderr);
    const password = /^GRAFANA_ADMIN_PASSWORD=([0-9a-f]{32})\n/.exec(run.env ?? '')?.[1];
    assert.ok(password, `a 128-bit password in .env: ${run.env}`);
    assert.match(run.stdout, new RegExp(`user admin, password ${password}`));
    assert.deepEqual(run.calls, [
      'docker compose version',
      'docker compose pull --ignore-buildable --policy missing --quiet',
      'docker compose up --detach --build --wait',
    ]);
  });

  it('a later run keeps the password of .env', async () => {
    const run = await composeUp({ env: 'GRAFANA_ADMIN_PASSWORD=chosen\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.env, `GRAFANA_ADMIN_PASSWORD=chosen\n${PINS}`);
    assert.match(run.stdout, /password chosen/);
  });

  it("every run writes the compose file's pins of versions.env to .env, replacing the previous ones", async () => {
    const stale = PINS.replace(/^OTELCOL_VERSION=.*$/m, 'OTELCOL_VERSION=0.0.1');
    const run = await composeUp({ env: `MINE=kept\n${stale}GRAFANA_ADMIN_PASSWORD=chosen\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.env, `MINE=kept\nGRAFANA_ADMIN_PASSWORD=chosen\n${PINS}`);
    // Exactly the variables docker-compose.yaml substitutes.
    const keys = [...PINS.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    const used = new Set(
      [
        ...readFileSync(join(repoRoot, 'docker-compose.yaml'), 'utf8').matchAll(
          /\$\{([A-Z][A-Z0-9_]*):\?/g,
        ),
      ].map((m) => m[1]),
    );
    assert.deepEqual(
      new Set(keys),
      new Set([...used].filter((k) => k !== 'GRAFANA_ADMIN_PASSWORD')),
    );
  });

  it('NOS_ENGINE=podman: the same commands through podman', async () => {
    const run = await composeUp({ engine: 'podman', vars: { NOS_ENGINE: 'podman' } });
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.calls.length === 3 && run.calls.every((call) => call.startsWith('podman compose ')),
      run.calls.join(' | '),
    );
  });
});
