// Summarises V8 CPU profiles (.cpuprofile, from `node --cpu-prof`, e.g. `npm run bench -- --variants A
// --cpu-prof DIR`): self time grouped by package (node_modules/<package>, node:internal, the
// application, V8's own "(garbage collector)", "(program)", "(idle)"), and the top frames.
//   node scripts/bench/profile-summary.ts DIR_OR_FILES... [--top 15] [--long-tasks MS] [--skip-ms MS] [--until-ms MS]
// With --long-tasks, only the stretches in which the thread was busy without a break for at least MS
// milliseconds count (what stalls the event loop), and the frames are ranked by inclusive time too.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  options: {
    top: { type: 'string', default: '15' },
    'long-tasks': { type: 'string' },
    'skip-ms': { type: 'string', default: '0' },
    'until-ms': { type: 'string', default: 'Infinity' },
  },
  allowPositionals: true,
});
const top = Number(values.top);
const longTaskMs = values['long-tasks'] === undefined ? undefined : Number(values['long-tasks']);
/** Samples of the first milliseconds (start-up) are left out. */
const skipMs = Number(values['skip-ms']);
/** ...and those after this many milliseconds (a window of the run, e.g. one load phase). */
const untilMs = Number(values['until-ms']);

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
  if (url.includes('/services/service-kit/')) return '@nos/service-kit';
  if (url.includes('/services/')) return 'application';
  return url;
}

/** Which samples count: all, or only those inside busy stretches of at least `minMs`. */
function countedSamples(profile: Profile, idle: Set<number>, minMs: number | undefined): boolean[] {
  let elapsed = 0;
  const late = profile.samples.map((_, i) => {
    elapsed += (profile.timeDeltas[i] ?? 0) / 1000;
    return elapsed >= skipMs && elapsed < untilMs;
  });
  const counted = [...late];
  if (minMs === undefined) return counted;
  let start = 0;
  let ms = 0;
  const close = (end: number) => {
    for (let i = start; i < end; i++) counted[i] = ms >= minMs && (late[i] ?? false);
  };
  profile.samples.forEach((id, i) => {
    if (idle.has(id)) {
      close(i);
      counted[i] = false;
      start = i + 1;
      ms = 0;
    } else {
      ms += (profile.timeDeltas[i] ?? 0) / 1000;
    }
  });
  close(profile.samples.length);
  return counted;
}

/** Self milliseconds per node id, of the counted samples. */
function selfTimes(profile: Profile, counted: boolean[]): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (!counted[i]) return;
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

const frameName = (frame: ProfileNode['callFrame']) => {
  const pkg = packageOf(frame.url, frame.functionName);
  return `${frame.functionName || '(anonymous)'} ${pkg}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
};

for (const file of files(positionals)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const idle = new Set(
    profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  const counted = countedSamples(profile, idle, longTaskMs);
  const byPackage = new Map<string, number>();
  const byFrame = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of selfTimes(profile, counted)) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const pkg = packageOf(frame.url, frame.functionName);
    if (pkg === '(idle)') continue;
    busy += ms;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const name = frameName(frame);
    byFrame.set(name, (byFrame.get(name) ?? 0) + ms);
  }
  const what =
    longTaskMs === undefined ? 'busy (idle excluded)' : `busy in stretches of >= ${longTaskMs} ms`;
  console.log(`\n### ${basename(file)}: ${busy.toFixed(0)} ms ${what}`);
  table('By package', byPackage, busy);
  table('Top frames', byFrame, busy);
  if (longTaskMs !== undefined) {
    // Inclusive: every frame on a counted sample's stack, once per sample.
    const parent = new Map<number, number>();
    for (const node of profile.nodes)
      for (const child of node.children ?? []) parent.set(child, node.id);
    const inclusive = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      if (!counted[i]) return;
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at)?.callFrame;
        if (!frame || frame.functionName === '(root)') continue;
        const name = frameName(frame);
        if (seen.has(name)) continue;
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
      }
    });
    table('Top frames, inclusive', inclusive, busy);
  }
}
