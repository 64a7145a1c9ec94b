// The service Dockerfiles' structure (test/e2e/compose-stack.test.ts builds and runs them):
// pinned base image equal to versions.env, multi-stage, production dependencies only, non-root,
// exec-form command equal to the production start script, and every COPY source present.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/service-process.ts';
import { pinnedVersion } from '../support/versions.ts';

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

const nodeImage = pinnedVersion('NODE_IMAGE');
const nodeVersion = pinnedVersion('NODE_VERSION');

test('NODE_IMAGE is the pinned Node.js on a slim Debian image', () => {
  assert.match(nodeImage, new RegExp(`^node:${nodeVersion.replaceAll('.', '\\.')}-[a-z]+-slim$`));
  assert.equal(readFileSync(join(repoRoot, '.node-version'), 'utf8').trim(), nodeVersion);
});

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

for (const name of ['api-gateway', 'user-service', 'traffic-generator'] as const) {
  describe(`services/${name}/Dockerfile`, () => {
    const dir = join(repoRoot, 'services', name);
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const instructions = parseDockerfile(text);
    const all = stages(instructions);
    const final = all.at(-1) ?? [];
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };

    test('every stage starts FROM the NODE_IMAGE build argument, whose default is the pinned NODE_IMAGE', () => {
      // Users build on the official image; networks without a registry pass their own base
      // (scripts/build-images.sh builds one for CI).
      const beforeFirstFrom = instructions.slice(
        0,
        instructions.findIndex((i) => i.keyword === 'FROM'),
      );
      assert.deepEqual(
        beforeFirstFrom.filter((i) => i.keyword === 'ARG').map((i) => i.args),
        [`NODE_IMAGE=${nodeImage}`],
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
        assert.match(prodInstall.args, new RegExp(`--workspace services/${name}\\b`));
        assert.ok(
          final.some(
            (i) =>
              i.keyword === 'COPY' && /--from=deps \/app\/node_modules node_modules/.test(i.args),
          ),
        );
        // The shared workspace package: package.json (exports map) and its compiled output.
        assert.ok(
          final.some(
            (i) =>
              i.keyword === 'COPY' &&
              i.args === 'services/telemetry/package.json services/telemetry/',
          ),
        );
        assert.ok(
          final.some(
            (i) =>
              i.keyword === 'COPY' &&
              /--from=build \/app\/services\/telemetry\/dist services\/telemetry\/dist/.test(
                i.args,
              ),
          ),
        );
        assert.ok(
          final.some(
            (i) =>
              i.keyword === 'COPY' &&
              new RegExp(`--from=build /app/services/${name}/dist services/${name}/dist`).test(
                i.args,
              ),
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

    test('its .dockerignore keeps local builds and node_modules out of the context', () => {
      const ignore = readFileSync(join(dir, 'Dockerfile.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim());
      for (const pattern of ['**/node_modules', '**/dist', '.git'])
        assert.ok(ignore.includes(pattern), pattern);
    });
  });
}
