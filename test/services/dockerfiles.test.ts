// The service Dockerfiles: services/Dockerfile (api-gateway and user-service, build argument SERVICE)
// and services/traffic-generator/Dockerfile. Their structure (base image only by build argument,
// multi-stage, no workspace package named, production dependencies only, non-root, exec-form command
// equal to the production start script, every COPY source present), and both service images built for
// real with the legacy builder and started (they need a Docker engine and the local images of
// scripts/build-images.sh; run under the heavy lock).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { localImages } from '../support/compose-override.ts';
import { repoRoot } from '../support/service-process.ts';
import { inCI } from '../support/tools.ts';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, with comments dropped and line continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = '';
  }
  return logical.map((l) => {
    const [keyword = '', ...rest] = l.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

function stages(instructions: Instruction[]): Instruction[][] {
  const result: Instruction[][] = [];
  for (const i of instructions) {
    if (i.keyword === 'FROM') result.push([]);
    result.at(-1)?.push(i);
  }
  return result;
}

test('the lockfile installs every package at the root node_modules the images copy', () => {
  // The final stages copy /app/node_modules only: a package npm nested under
  // services/<name>/node_modules (a version conflict with the root) would be missing at run time.
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const nested = Object.keys(lock.packages).filter((path) =>
    /^services\/[^/]+\/node_modules\//.test(path),
  );
  assert.deepEqual(nested, []);
});

const dockerfileOf = {
  'api-gateway': 'services/Dockerfile',
  'user-service': 'services/Dockerfile',
  'traffic-generator': 'services/traffic-generator/Dockerfile',
} as const;

for (const name of ['api-gateway', 'user-service', 'traffic-generator'] as const) {
  describe(`${dockerfileOf[name]} for ${name}`, () => {
    const dir = join(repoRoot, 'services', name);
    const text = readFileSync(join(repoRoot, dockerfileOf[name]), 'utf8').replaceAll(
      '${SERVICE}',
      name,
    );
    const instructions = parseDockerfile(text);
    const all = stages(instructions);
    const final = all.at(-1) ?? [];
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };

    test('every stage starts FROM the NODE_IMAGE build argument, which has no default', () => {
      // The pin is versions.env's: compose, scripts/up.sh and CI pass it (CI its local build,
      // scripts/build-images.sh), so the Dockerfile holds no copy of it.
      const beforeFirstFrom = instructions.slice(
        0,
        instructions.findIndex((i) => i.keyword === 'FROM'),
      );
      assert.deepEqual(
        beforeFirstFrom.filter((i) => i.keyword === 'ARG').map((i) => i.args),
        ['NODE_IMAGE'],
      );
      const froms = instructions.filter((i) => i.keyword === 'FROM');
      assert.ok(froms.length >= 2, 'multi-stage');
      for (const from of froms) assert.equal(from.args.split(/\s+/)[0], '${NODE_IMAGE}');
      assert.doesNotMatch(text, /:latest\b/);
    });

    test('the final stage runs as the unprivileged node user', () => {
      const users = final.filter((i) => i.keyword === 'USER');
      assert.deepEqual(
        users.map((u) => u.args),
        ['node'],
      );
      const userIndex = final.findIndex((i) => i.keyword === 'USER');
      assert.ok(
        final.slice(userIndex).every((i) => i.keyword !== 'RUN'),
        'no RUN after USER node',
      );
    });

    test('exec-form command equal to `npm start`: node ends up PID 1 and receives SIGTERM', () => {
      const command = final.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT');
      assert.equal(command.length, 1);
      const argv = JSON.parse(command[0]?.args ?? '') as string[];
      assert.ok(!argv.includes('npm'));
      assert.equal(pkg.scripts?.start, `exec ${argv.join(' ')}`, 'CMD equals `npm start`');
      if (name === 'traffic-generator') {
        assert.deepEqual(argv, ['node', 'dist/cli.js']);
      } else {
        // The start script `exec`s node: no shell stays in between.
        assert.equal(command[0]?.keyword, 'CMD');
        assert.deepEqual(argv, ['nos-start', 'dist/server.js']);
        const startScript = readFileSync(
          join(repoRoot, 'services', 'telemetry', 'bin', 'start.sh'),
          'utf8',
        );
        assert.ok(
          startScript
            .split('\n')
            .filter((line) => /^\s*exec /.test(line))
            .every((line) => /^\s*exec node /.test(line)),
          'every start is `exec node ...`',
        );
        const env = final
          .filter((i) => i.keyword === 'ENV')
          .map((i) => i.args)
          .join(' ');
        assert.match(env, /PATH=\/app\/node_modules\/\.bin:\$PATH/, 'nos-start on PATH');
      }
      const workdirs = final.filter((i) => i.keyword === 'WORKDIR');
      assert.equal(
        workdirs.at(-1)?.args,
        `/app/services/${name}`,
        'started in the workspace directory',
      );
    });

    test('production dependencies only in the final image', () => {
      const runsInFinal = final.filter((i) => i.keyword === 'RUN');
      assert.deepEqual(runsInFinal, [], 'nothing is installed or built in the final stage');
      if (name !== 'traffic-generator') {
        const prodInstall = instructions.find(
          (i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args),
        );
        assert.ok(prodInstall, 'npm ci --omit=dev');
        assert.match(prodInstall.args, /--workspace "services\/\$SERVICE"/);
        assert.ok(
          final.some(
            (i) =>
              i.keyword === 'COPY' && /--from=deps \/app\/node_modules node_modules/.test(i.args),
          ),
        );
        // The workspace packages it needs, as tsc -b built them: package.json, bin/ and dist/ only.
        assert.ok(
          final.some(
            (i) => i.keyword === 'COPY' && i.args === '--from=build /runtime/services services',
          ),
        );
        const build = all.find((stage) => / AS build$/.test(stage[0]?.args ?? '')) ?? [];
        assert.ok(
          build.some((i) => i.keyword === 'RUN' && /tsc -b "services\/\$SERVICE"/.test(i.args)),
        );
        assert.ok(
          build.some(
            (i) => i.keyword === 'RUN' && /cp -R "\$dir\/package\.json" "\$dir\/dist"/.test(i.args),
          ),
        );
      }
      assert.ok(
        !final.some((i) => i.keyword === 'COPY' && /\bsrc\b/.test(i.args)),
        'no sources in the final image',
      );
    });

    test('every COPY from the build context exists (context = repository root)', () => {
      for (const copy of instructions.filter(
        (i) => i.keyword === 'COPY' && !i.args.includes('--from='),
      )) {
        const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const source of parts.slice(0, -1)) {
          assert.ok(existsSync(join(repoRoot, source)), `COPY source ${source} exists`);
        }
      }
      assert.ok(!instructions.some((i) => i.keyword === 'ADD'), 'COPY, not ADD');
    });

    test('the .dockerignore keeps local builds and node_modules out of the context', () => {
      // The legacy builder reads only the root's; BuildKit falls back to it too.
      const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim());
      for (const pattern of ['**/node_modules', '**/dist', '.git'])
        assert.ok(ignore.includes(pattern), pattern);
    });
  });
}

test('services/Dockerfile names no workspace package: a new one needs no edit of it', () => {
  const text = readFileSync(join(repoRoot, 'services', 'Dockerfile'), 'utf8');
  const instructions = parseDockerfile(text)
    .map((i) => `${i.keyword} ${i.args}`)
    .join('\n');
  const root = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  for (const workspace of root.workspaces) {
    const name = workspace.split('/').at(-1) ?? '';
    assert.ok(!instructions.includes(name), `${workspace} is not named`);
  }
  // Every workspace package.json and bin/ reaches the install stages, pruned from a copy of services/.
  assert.match(instructions, /COPY services services\nRUN find services -mindepth 2 -maxdepth 2/);
  assert.match(instructions, /! -name package\.json ! -name bin -exec rm -rf/);
});

/** `docker ...` with the legacy builder; undefined when no engine answers outside CI (skipped). */
function docker(args: string[], timeout = 900_000) {
  return spawnSync('docker', args, {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
  });
}

describe('services/Dockerfile, built and started (legacy builder, the local Node image)', () => {
  const engine = docker(['version', '--format', '{{.Server.Version}}'], 30_000).status === 0;
  const base = localImages.node();
  const ready = (t: { skip: (m: string) => void }) => {
    if (engine) return true;
    const hint = 'no Docker engine answers: bash scripts/docker-engine.sh start';
    if (inCI) throw new Error(hint);
    t.skip(hint);
    return false;
  };
  const build = (args: string[]) =>
    docker(['build', '--quiet', '-f', 'services/Dockerfile', ...args, '.']);

  test('a build without SERVICE or NODE_IMAGE stops and names the argument', (t) => {
    if (!ready(t)) return;
    const noService = build(['--build-arg', `NODE_IMAGE=${base}`]);
    assert.notEqual(noService.status, 0);
    assert.match(noService.stderr + noService.stdout, /build argument SERVICE is required/);
    const noBase = build(['--build-arg', 'SERVICE=api-gateway']);
    assert.notEqual(noBase.status, 0);
    assert.match(noBase.stderr, /NODE_IMAGE/);
  });

  for (const [name, port] of [
    ['api-gateway', 8080],
    ['user-service', 8081],
  ] as const) {
    test(`${name}: the image builds, holds only its packages' runtime files, answers /readyz as user node, and stops on SIGTERM`, (t) => {
      if (!ready(t)) return;
      const tag = `nos-test/${name}:dockerfile`;
      const built = build([
        '--build-arg',
        `SERVICE=${name}`,
        '--build-arg',
        `NODE_IMAGE=${base}`,
        '-t',
        tag,
      ]);
      assert.equal(built.status, 0, built.stderr);
      const listing = docker([
        'run',
        '--rm',
        '--entrypoint',
        'sh',
        tag,
        '-c',
        'id -un; ls /app/services/*',
      ]);
      assert.equal(listing.status, 0, listing.stderr);
      assert.match(listing.stdout, /^node\n/);
      assert.doesNotMatch(listing.stdout, /\bsrc\b|traffic-generator|tsconfig/);
      assert.match(listing.stdout, new RegExp(`/app/services/${name}:\\ndist\\npackage\\.json`));
      assert.match(listing.stdout, /\/app\/services\/telemetry:\nbin\ndist\npackage\.json/);

      const container = `nos-test-dockerfile-${name}`;
      docker(['rm', '--force', container], 30_000);
      t.after(() => docker(['rm', '--force', container], 30_000));
      const run = docker([
        'run',
        '--detach',
        '--name',
        container,
        '--env',
        'OTEL_SDK_DISABLED=true',
        tag,
      ]);
      assert.equal(run.status, 0, run.stderr);
      const probe = `fetch('http://127.0.0.1:${port}/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
      let status = 1;
      for (let attempt = 0; attempt < 60 && status !== 0; attempt++) {
        status = docker(['exec', container, 'node', '--eval', probe], 30_000).status ?? 1;
        if (status !== 0) spawnSync('sleep', ['0.5']);
      }
      assert.equal(status, 0, `GET /readyz:\n${docker(['logs', container]).stderr}`);
      const stop = docker(['stop', '--time', '20', container], 60_000);
      assert.equal(stop.status, 0, stop.stderr);
      const exit = docker(['inspect', '--format', '{{.State.ExitCode}}', container], 30_000);
      assert.equal(exit.stdout.trim(), '0', 'node is PID 1 and exits cleanly on SIGTERM');
    });
  }
});
