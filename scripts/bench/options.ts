// The benchmark's knobs: each a command-line option and a BENCH_* variable, with a full and a quick
// default; `--help` lists them.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VARIANTS, type Variant } from './summary.ts';

const OPTIONS = {
  rounds: { env: 'BENCH_ROUNDS', full: 5, quick: 2, help: 'alternated rounds' },
  'idle-seconds': { env: 'BENCH_IDLE_SECONDS', full: 5, quick: 2, help: 'wait before RSS idle' },
  'warmup-seconds': {
    env: 'BENCH_WARMUP_SECONDS',
    full: 5,
    quick: 3,
    help: 'load at the fixed rate after RSS idle, so the JIT has warmed up',
  },
  rate: { env: 'BENCH_RATE', full: 200, quick: 200, help: 'fixed rate for p50/p99 (req/s)' },
  'rate-seconds': { env: 'BENCH_RATE_SECONDS', full: 20, quick: 6, help: 'fixed-rate duration' },
  'delivery-rate': {
    env: 'BENCH_DELIVERY_RATE',
    full: 500,
    quick: 500,
    help: 'high fixed rate (p99; delivery of A) (req/s)',
  },
  'delivery-seconds': {
    env: 'BENCH_DELIVERY_SECONDS',
    full: 60,
    quick: 10,
    help: 'high fixed rate duration',
  },
  connections: { env: 'BENCH_CONNECTIONS', full: 50, quick: 50, help: 'wrk connections' },
  'saturation-seconds': {
    env: 'BENCH_SATURATION_SECONDS',
    full: 20,
    quick: 8,
    help: 'wrk duration',
  },
} as const;
type OptionName = keyof typeof OPTIONS;
export type Settings = Record<OptionName, number>;

export interface BenchOptions {
  settings: Settings;
  quick: boolean;
  variants: Variant[];
  /** Variant A runs under node --cpu-prof into this directory. */
  profileDir: string | undefined;
  /** Event-loop delay and GC once a second, per variant and service (probe.ts). */
  probeDir: string | undefined;
  /** Extra environment for A, e.g. OTEL_TRACES_SAMPLER_ARG=0.1: what a knob changes. */
  aEnv: Record<string, string>;
  json: string | undefined;
}

function printHelp(): void {
  console.log(
    'npm run bench -- [--quick] [--variants A,B,C,Z,Z_esm] [--json file] [--cpu-prof dir]',
  );
  for (const [name, o] of Object.entries(OPTIONS)) {
    console.log(
      `  --${name.padEnd(19)} ${o.env.padEnd(25)} ${o.help} (${o.full}; quick ${o.quick})`,
    );
  }
  console.log(
    '  --cpu-prof dir: variant A runs under node --cpu-prof (main thread and log worker)',
  );
  console.log('  --probe dir: event-loop delay and GC once a second, every variant (probe.ts)');
}

/** The options of this run; prints the help and exits for `--help`. */
export function benchOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const args = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(OPTIONS).map((name) => [name, { type: 'string' }])),
      quick: { type: 'boolean' },
      variants: { type: 'string' },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      probe: { type: 'string' },
      'a-env': { type: 'string' },
      help: { type: 'boolean' },
    },
  }).values as Record<string, string | boolean | undefined>;
  if (args.help) {
    printHelp();
    process.exit(0);
  }
  const quick = args.quick === true || env.BENCH_QUICK === 'true';
  const option = (name: OptionName): number => {
    const o = OPTIONS[name];
    const raw = (args[name] as string | undefined) ?? env[o.env];
    const value = raw === undefined ? (quick ? o.quick : o.full) : Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name}: not a number: ${raw}`);
    return value;
  };
  const settings = Object.fromEntries(
    (Object.keys(OPTIONS) as OptionName[]).map((name) => [name, option(name)]),
  ) as Settings;
  const variants = String(args.variants ?? env.BENCH_VARIANTS ?? VARIANTS.join(','))
    .split(',')
    .map((v) => VARIANTS.find((known) => known.toUpperCase() === v.trim().toUpperCase()))
    .filter((v): v is Variant => v !== undefined);
  const aEnv: Record<string, string> = Object.fromEntries(
    String(args['a-env'] ?? env.BENCH_A_ENV ?? '')
      .split(',')
      .filter((pair) => pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1)]),
  );
  return {
    settings,
    quick,
    variants,
    profileDir: args['cpu-prof'] as string | undefined,
    probeDir: args.probe as string | undefined,
    aEnv,
    json: args.json as string | undefined,
  };
}

/** The probe preload's arguments, when probing. */
export function probeArgs(repoRoot: string, probeDir: string | undefined): string[] {
  return probeDir ? ['--import', join(repoRoot, 'scripts', 'bench', 'probe.ts')] : [];
}
