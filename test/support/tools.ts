// Resolves the external binaries the tests need (built by scripts/install-tools.sh).
// Under CI=true a missing tool is a failure, never a silent skip.
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

export const cacheDir =
  process.env.NOS_CACHE_DIR ?? join(homedir(), '.cache', 'node-observability-stack');
export const toolBinDir = join(cacheDir, 'bin');

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name` from the project's tool cache, then PATH; undefined when absent. */
export function findTool(name: string): string | undefined {
  const dirs = [toolBinDir, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  return dirs.map((dir) => join(dir, name)).find(isExecutable);
}

export const inCI = process.env.CI === 'true';

/**
 * Path of a required tool. Missing under CI=true: throws (the test fails). Missing elsewhere: skips
 * the test with the command that installs the tool, and returns undefined.
 */
export function requireTool(name: string, t?: TestContext): string | undefined {
  const path = findTool(name);
  if (path) return path;
  const hint = `'${name}' not found in ${toolBinDir} or PATH: run 'bash scripts/install-tools.sh'`;
  if (inCI || !t) throw new Error(hint);
  t.skip(hint);
  console.warn(`SKIPPED: ${hint}`);
  return undefined;
}
