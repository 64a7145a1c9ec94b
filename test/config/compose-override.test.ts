// The compose tests' override (test/support/compose-override.ts) changes docker-compose.yaml ONLY where
// this machine needs it: images that cannot be pulled become their local builds at the same version, and
// Grafana, Loki and Tempo become recording stand-ins (image, command, healthcheck, and two added mounts:
// the stand-in's config and the recording directory). Everything else (service names, ports, networks,
// environment, depends_on, the base file's volumes, restart policies, top-level volumes) is compared
// equal in the real Compose implementation's resolved model (`docker-compose config --format json`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import {
  composeFile,
  localImages,
  localImageOf,
  overrideYaml,
  RECORDS_TARGET,
  splitImage,
  STANDIN_CONFIG_TARGET,
  standInOf,
} from '../support/compose-override.ts';
import { requireTool } from '../support/tools.ts';
import { repoRoot } from '../support/versions.ts';

type Json = Record<string, unknown>;
interface ResolvedService extends Json {
  image?: string;
  build?: { args?: Record<string, string> } & Json;
  volumes?: { type: string; source?: string; target: string }[];
  healthcheck?: { test?: string[] } & Json;
}

const dir = mkdtempSync(join(tmpdir(), 'nos-compose-override-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const overridePath = join(dir, 'override.yaml');
writeFileSync(overridePath, overrideYaml(join(dir, 'records')));

function resolved(t: TestContext, files: string[]): Json | undefined {
  const compose = requireTool('docker-compose', t);
  if (!compose) return undefined;
  const result = spawnSync(
    compose,
    [
      // The pins, as scripts/compose-up.sh gives them; no developer's .env.
      ...['--env-file', join(repoRoot, 'versions.env')],
      ...files.flatMap((f) => ['-f', f]),
      ...['--profile', '*', 'config', '--format', 'json'],
    ],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, GRAFANA_ADMIN_PASSWORD: 'compose-override-test' },
    },
  );
  assert.equal(result.status, 0, `docker-compose config: ${result.stderr}`);
  return JSON.parse(result.stdout) as Json;
}

const clone = <T>(value: T): T => structuredClone(value);

test('the override changes only unpullable images and the Grafana, Loki and Tempo stand-ins', (t) => {
  const base = resolved(t, [composeFile]);
  const merged = resolved(t, [composeFile, overridePath]);
  if (!base || !merged) return;
  const baseServices = base.services as Record<string, ResolvedService>;
  const mergedServices = merged.services as Record<string, ResolvedService>;
  assert.deepEqual(Object.keys(mergedServices).sort(), Object.keys(baseServices).sort());
  const { services: _b, ...baseTop } = base;
  const { services: _m, ...mergedTop } = merged;
  assert.deepEqual(mergedTop, baseTop, 'top level (name, networks, volumes) unchanged');

  const kinds: string[] = [];
  for (const [name, baseService] of Object.entries(baseServices)) {
    const was = clone(baseService);
    const now = clone(mergedServices[name] as ResolvedService);
    if (was.build) {
      // (a) the Dockerfiles' base image, through their build argument.
      assert.equal(now.build?.args?.NODE_IMAGE, localImages.node(), `${name} build arg`);
      for (const service of [was, now]) delete service.build?.args?.NODE_IMAGE;
      kinds.push(`${name}: NODE_IMAGE build argument`);
    } else {
      const { repository, tag } = splitImage(was.image ?? '');
      const local = localImageOf[repository];
      const standIn = standInOf[repository];
      assert.ok(local ?? standIn, `${name}: ${repository} has a local image or a stand-in`);
      if (local) {
        // (a) the same release, built locally.
        assert.equal(now.image, local(tag), `${name} image`);
        kinds.push(`${name}: ${was.image} -> ${now.image}`);
      } else {
        // (b) a recording stand-in: its image, command and healthcheck, plus two mounts.
        assert.equal(now.image, localImages.recorder(), `${name} stand-in image`);
        assert.deepEqual(now.command, [`--config=${STANDIN_CONFIG_TARGET}`]);
        assert.equal(now.healthcheck?.test?.[0], 'CMD');
        delete was.command;
        delete now.command;
        delete was.entrypoint;
        delete now.entrypoint;
        // Where the file gives the real image a healthcheck, the stand-in keeps its timing and only
        // changes the command; where it gives none (Tempo 2.10), the stand-in's is the only one.
        if (was.healthcheck) {
          delete was.healthcheck.test;
          delete now.healthcheck?.test;
        } else {
          delete now.healthcheck;
        }
        const added = (now.volumes ?? []).filter(
          (v) => v.target === STANDIN_CONFIG_TARGET || v.target === RECORDS_TARGET,
        );
        assert.equal(added.length, 2, `${name}: config and records mounts`);
        assert.ok(added[0]?.source?.endsWith(`test/compose/${standIn}.yaml`));
        now.volumes = (now.volumes ?? []).filter((v) => !added.includes(v));
        kinds.push(`${name}: ${was.image} -> stand-in test/compose/${standIn}.yaml`);
      }
      delete was.image;
      delete now.image;
    }
    assert.deepEqual(now, was, `service ${name}: nothing else differs`);
  }
  t.diagnostic(kinds.join('; '));
});
