// versions.env is the one source of the pins: the copies in files that cannot read it are current
// (scripts/sync-versions.sh --check), the script really rewrites a stale copy and is idempotent, and
// no other file in the tree repeats a pinned value.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { pinnedVersion, readVersionsEnv, repoRoot } from '../support/versions.ts';

const versions = readVersionsEnv();
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

/** The files scripts/sync-versions.sh writes (or, for kind-config.yaml, checks). */
const GENERATED = [
  '.node-version',
  'collector/builder-config.yaml',
  'helmfile.yaml',
  'docs/versions.md',
  'kind-config.yaml',
];

const sync = (cwd: string, args: string[] = []) =>
  spawnSync('bash', [join(cwd, 'scripts', 'sync-versions.sh'), ...args], {
    cwd,
    encoding: 'utf8',
  });

const root = mkdtempSync(join(tmpdir(), 'nos-sync-versions-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A checkout of its own with the script, versions.env and the generated files. */
function checkout(name: string): string {
  const dir = join(root, name);
  for (const file of ['scripts/sync-versions.sh', 'versions.env', ...GENERATED]) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(repoRoot, file), join(dir, file));
  }
  return dir;
}

describe('scripts/sync-versions.sh', () => {
  test('--check finds every copy of the pins current', () => {
    const result = sync(repoRoot, ['--check']);
    assert.equal(result.status, 0, `run scripts/sync-versions.sh:\n${result.stderr}`);
  });

  test('a moved pin makes --check fail, the script rewrites the copies, and a second run changes nothing', () => {
    const dir = checkout('moved');
    const env = readFileSync(join(dir, 'versions.env'), 'utf8')
      .replace(/^NODE_VERSION=.*$/m, 'NODE_VERSION=99.1.2')
      .replace(/^OTELCOL_VERSION=.*$/m, 'OTELCOL_VERSION=0.999.0')
      .replace(/^LOKI_CHART_VERSION=.*$/m, 'LOKI_CHART_VERSION=77.0.1');
    writeFileSync(join(dir, 'versions.env'), env);

    const stale = sync(dir, ['--check']);
    assert.equal(stale.status, 1);
    for (const file of ['.node-version', 'collector/builder-config.yaml', 'helmfile.yaml'])
      assert.match(stale.stderr, new RegExp(`not current.*${file.replace('.', '\\.')}`), file);
    assert.equal(readFileSync(join(dir, '.node-version'), 'utf8'), read('.node-version'));

    const write = sync(dir);
    assert.equal(write.status, 0, write.stderr);
    assert.equal(readFileSync(join(dir, '.node-version'), 'utf8'), '99.1.2\n');
    const manifest = parse(readFileSync(join(dir, 'collector/builder-config.yaml'), 'utf8')) as {
      dist: { version: string };
      extensions: { gomod: string }[];
      providers: { gomod: string }[];
    };
    assert.equal(manifest.dist.version, '0.999.0');
    assert.ok(manifest.extensions.every((c) => c.gomod.endsWith(' v0.999.0')));
    const stable = `v${pinnedVersion('OTELCOL_STABLE_VERSION', versions)}`;
    assert.ok(
      manifest.providers.every((c) => c.gomod.endsWith(` ${stable}`)),
      'stable unchanged',
    );
    const helmfile = parse(readFileSync(join(dir, 'helmfile.yaml'), 'utf8')) as {
      releases: { name: string; version?: string }[];
    };
    assert.equal(helmfile.releases.find((r) => r.name === 'loki')?.version, '77.0.1');
    assert.match(
      readFileSync(join(dir, 'docs/versions.md'), 'utf8'),
      /`OTELCOL_VERSION`: `0\.999\.0`/,
    );

    const snapshot = GENERATED.map((f) => readFileSync(join(dir, f), 'utf8'));
    const again = sync(dir);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, '', 'nothing written on the second run');
    assert.deepEqual(
      GENERATED.map((f) => readFileSync(join(dir, f), 'utf8')),
      snapshot,
    );
    assert.equal(sync(dir, ['--check']).status, 0);
  });

  test("a kind node image that is not KUBERNETES_VERSION's fails, as the script cannot pin its digest", () => {
    const dir = checkout('kind');
    const env = readFileSync(join(dir, 'versions.env'), 'utf8').replace(
      /^KUBERNETES_VERSION=.*$/m,
      'KUBERNETES_VERSION=1.99.0',
    );
    writeFileSync(join(dir, 'versions.env'), env);
    const result = sync(dir);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /kind-config\.yaml: the node image is not kindest\/node:v1\.99\.0/);
  });
});

describe('versions.env', () => {
  test('NODE_IMAGE is the pinned Node.js on a slim Debian image', () => {
    const nodeVersion = pinnedVersion('NODE_VERSION', versions);
    assert.match(
      pinnedVersion('NODE_IMAGE', versions),
      new RegExp(`^node:${nodeVersion.replaceAll('.', '\\.')}-[a-z]+-slim$`),
    );
    assert.equal(read('.node-version').trim(), nodeVersion);
  });

  test('the kind node image, kubectl and the local control plane run the pinned Kubernetes', () => {
    const kind = parse(read('kind-config.yaml')) as { nodes: { image: string }[] };
    for (const { image } of kind.nodes) {
      assert.match(image, /^kindest\/node:v[\d.]+@sha256:[0-9a-f]{64}$/, 'pinned by digest');
      assert.ok(
        image.startsWith(`kindest/node:v${pinnedVersion('KUBERNETES_VERSION', versions)}@`),
      );
    }
    const minorOf = (v: string) => v.split('.').slice(0, 2).join('.');
    assert.equal(
      minorOf(pinnedVersion('KUBERNETES_BINARIES_VERSION', versions)),
      minorOf(pinnedVersion('KUBERNETES_VERSION', versions)),
    );
    for (const key of [
      'KIND_VERSION',
      'HELMFILE_VERSION',
      'HELM_DIFF_VERSION',
      'ETCD_VERSION',
      'KWOK_VERSION',
    ])
      assert.match(pinnedVersion(key, versions), /^\d+\.\d+\.\d+$/, key);
  });

  test('no file outside the generated ones repeats a pinned value', () => {
    // Skipped: the source, the generated copies, the lockfile (npm's own versions), and the two
    // records of past checks, which say what a run used on a given date.
    const skip = new Set([
      'versions.env',
      'package-lock.json',
      'docs/platforms.md',
      'docs/verification.md',
      ...GENERATED.filter((f) => f !== 'helmfile.yaml'),
    ]);
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && !skip.has(f) && !/\.(png|ico)$/.test(f));
    const pins = [...versions.entries()].map(([key, value]) => ({
      key,
      value,
      pattern: new RegExp(`(?<![\\w.])${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w.])`),
    }));
    const copies: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = read(file);
      } catch {
        continue; // deleted in the work tree
      }
      text.split('\n').forEach((line, index) => {
        // helmfile.yaml's chart versions are written by the script.
        if (file === 'helmfile.yaml' && /^ {4}version: /.test(line)) return;
        for (const { key, pattern } of pins) {
          if (pattern.test(line)) copies.push(`${file}:${index + 1}: ${key}`);
        }
      });
    }
    assert.deepEqual(
      copies,
      [],
      'read versions.env, or generate the copy in scripts/sync-versions.sh',
    );
  });
});
