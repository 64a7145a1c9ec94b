// Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`, e.g. `npm run bench -- --variants A
// --cpu-prof DIR`): self time grouped by package (node_modules/<package>, node:internal, the
// application, V8's own "(garbage collector)", "(program)", "(idle)"), and the top frames.
//   node scripts/bench/profile-summary.ts DIR_OR_FILES... [--top 15]

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '15' } },
  allowPositionals: true,
});
const top = Number(values.top);

function files(paths: string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? files(readdirSync(path).map((name) => join(path, name)))
      : path.endsWith('.cpuprofile')
        ? [path]
        : [],
  );
}

export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1] as string;
  if (url.includes('/services/telemetry/')) return '@nos/telemetry';
  if (url.includes('/services/')) return 'application';
  return url;
}

/** Self milliseconds per node id. */
function selfTimes(profile: Profile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return self;
}

function table(title: string, entries: Map<string, number>, total: number): void {
  console.log(`\n${title}\n| self ms | % of busy | |\n|---:|---:|---|`);
  for (const [name, ms] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${ms.toFixed(0)} | ${((100 * ms) / total).toFixed(1)} | ${name} |`);
  }
}

for (const file of files(positionals)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPackage = new Map<string, number>();
  const byFrame = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of selfTimes(profile)) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const pkg = packageOf(frame.url, frame.functionName);
    if (pkg === '(idle)') continue;
    busy += ms;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const name = `${frame.functionName || '(anonymous)'} ${pkg}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFrame.set(name, (byFrame.get(name) ?? 0) + ms);
  }
  console.log(`\n### ${basename(file)}: ${busy.toFixed(0)} ms busy (idle excluded)`);
  table('By package', byPackage, busy);
  table('Top frames', byFrame, busy);
}
