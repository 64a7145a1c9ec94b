// The layers of the workspace packages, read from the import statements of their sources:
// services -> service kit -> telemetry preload, and the dependency-free fetch helpers beside the
// preload. The preload imports nothing of the kit (what a user copies to instrument a service stands
// alone), services never import each other, and no module import cycle exists.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../support/versions.ts';

const servicesDir = join(repoRoot, 'services');

/** Lower layers are imported by higher ones, never the other way. */
const LAYERS: Readonly<Record<string, number>> = {
  telemetry: 0,
  'fetch-helpers': 0,
  'service-kit': 1,
  'user-service': 2,
  'api-gateway': 2,
  'traffic-generator': 2,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier of static imports, re-exports and dynamic imports. */
function specifiers(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = [
    ...withoutComments.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*'([^']+)'/gm),
    ...withoutComments.matchAll(/^\s*import\s*'([^']+)'/gm),
    ...withoutComments.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
  ];
  return found.map((m) => m[1] ?? '');
}

interface Edge {
  from: string;
  to: string;
}

const packages = readdirSync(servicesDir).filter((name) => name in LAYERS);
const files = packages.flatMap((name) => sourceFiles(join(servicesDir, name, 'src')));
const packageOf = (file: string) => relative(servicesDir, file).split('/')[0] ?? '';
const npmName = (name: string) => `@nos/${name}`;

/** Arrows between packages (an `@nos/...` import) and between modules of one package (relative). */
const packageEdges: Edge[] = [];
const moduleEdges: Edge[] = [];
for (const file of files) {
  for (const spec of specifiers(readFileSync(file, 'utf8'))) {
    if (spec.startsWith('.')) {
      moduleEdges.push({ from: file, to: resolve(dirname(file), spec) });
    } else if (spec.startsWith('@nos/')) {
      packageEdges.push({ from: file, to: spec.split('/')[1] ?? '' });
    }
  }
}
const show = (edge: Edge) => `${relative(repoRoot, edge.from)} -> ${edge.to}`;

describe('import graph of the workspace packages', () => {
  test('every package under services/ has a layer, and the sources import something', () => {
    assert.deepEqual(packages.sort(), Object.keys(LAYERS).sort());
    assert.ok(packageEdges.length > 10, `found ${packageEdges.length} package imports`);
    assert.ok(
      specifiers("import { a } from 'x';\nexport { b } from 'y';\nawait import('z');").join() ===
        'x,y,z',
    );
  });

  test('imports go down the layers only: services -> kit -> telemetry, never back', () => {
    const wrong = packageEdges.filter((edge) => {
      const from = packageOf(edge.from);
      return from !== edge.to && !((LAYERS[from] ?? 0) > (LAYERS[edge.to] ?? Infinity));
    });
    assert.deepEqual(wrong.map(show), []);
  });

  test('the telemetry preload and the fetch helpers import no other package of the project', () => {
    const fromLeaves = packageEdges.filter((edge) => LAYERS[packageOf(edge.from)] === 0);
    assert.deepEqual(fromLeaves.map(show), []);
  });

  test('relative imports stay inside their package', () => {
    const escaping = moduleEdges.filter((edge) => packageOf(edge.to) !== packageOf(edge.from));
    assert.deepEqual(escaping.map(show), []);
  });

  test('every package a source imports is declared in its package.json', () => {
    for (const name of packages) {
      const pkg = JSON.parse(readFileSync(join(servicesDir, name, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };
      const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
      const used = new Set(
        packageEdges.filter((e) => packageOf(e.from) === name && e.to !== name).map((e) => e.to),
      );
      for (const to of used) assert.ok(npmName(to) in declared, `${name} declares ${npmName(to)}`);
    }
  });

  test('no module import cycle', () => {
    const next = new Map<string, string[]>();
    for (const edge of moduleEdges) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
    const done = new Set<string>();
    const visit = (file: string, path: string[]): void => {
      if (path.includes(file)) {
        assert.fail(
          `cycle: ${[...path.slice(path.indexOf(file)), file].map((f) => relative(repoRoot, f)).join(' -> ')}`,
        );
      }
      if (done.has(file)) return;
      for (const to of next.get(file) ?? []) visit(to, [...path, file]);
      done.add(file);
    };
    for (const file of files) visit(file, []);
    assert.ok(moduleEdges.length > 20, `found ${moduleEdges.length} module imports`);
  });
});
