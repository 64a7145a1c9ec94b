// Container log files as the kubelet and a CRI runtime (containerd) leave them on a node:
//   <root>/<namespace>_<pod>_<pod uid>/<container>/<restart count>.log
// one line per write, "<RFC 3339 time with nanoseconds> <stdout|stderr> <P|F> <text>", where a line
// longer than the runtime's buffer is split into P parts ended by an F part. Rotation is the kubelet's:
// rename <n>.log to <n>.log.<YYYYMMDD-hhmmss>, then the runtime reopens <n>.log (until then it still
// writes through its open descriptor, into the renamed file).
// Each writer records the log records a collector must make of what it wrote.

import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Stream = 'stdout' | 'stderr';

export interface Container {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
}

/** One log record as the collector must emit it. */
export interface ExpectedRecord {
  stream: Stream;
  body: string;
  timeUnixNano: bigint;
}

/** And which file of the container instance it is in (0, then 1 after a rotation, ...). */
export interface WrittenRecord extends ExpectedRecord {
  file: number;
}

/** The identity of one container instance, as the collector's resource attributes spell it. */
export const instanceKey = (c: Container, restartCount: number): string =>
  `${c.namespace}/${c.pod}/${c.uid}/${c.container}/${restartCount}`;

/** Nanoseconds since the epoch as the runtime writes them (RFC 3339, always 9 fraction digits). */
export function criTime(unixNano: bigint): string {
  const ms = Number(unixNano / 1_000_000n);
  const fraction = String(unixNano % 1_000_000_000n).padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** A strictly increasing clock shared by the writers, with sub-millisecond digits in every value. */
export class FakeClock {
  #now: bigint;
  constructor(start: Date) {
    this.#now = BigInt(start.getTime()) * 1_000_000n;
  }
  next(): bigint {
    this.#now += 1_000_321n;
    return this.#now;
  }
}

export class ContainerLogWriter {
  readonly container: Container;
  readonly restartCount: number;
  readonly dir: string;
  /** What the collector must emit for this container instance, in order. */
  readonly expected: WrittenRecord[] = [];
  readonly #clock: FakeClock;
  /** Where the runtime's open descriptor points: the current file, or the renamed one until reopen. */
  #target: string;
  /** The file the runtime writes to, counted from 0: a rotation's reopen starts the next one. */
  #file = 0;

  constructor(root: string, container: Container, clock: FakeClock, restartCount = 0) {
    this.container = container;
    this.restartCount = restartCount;
    this.#clock = clock;
    const { namespace, pod, uid } = container;
    this.dir = join(root, `${namespace}_${pod}_${uid}`, container.container);
    mkdirSync(this.dir, { recursive: true });
    this.#target = this.path;
    writeFileSync(this.path, '');
  }

  get path(): string {
    return join(this.dir, `${this.restartCount}.log`);
  }

  get key(): string {
    return instanceKey(this.container, this.restartCount);
  }

  /** One complete line. */
  line(stream: Stream, text: string): this {
    return this.split(stream, [text]);
  }

  /** One line the runtime wrote in parts (P ... P F), each part with its own time: one record,
   * at the time of the first part. */
  split(stream: Stream, parts: string[]): this {
    this.#write(stream, parts);
    return this;
  }

  /** Only the P parts of a split line now; `finish` writes the rest later. */
  begin(stream: Stream, parts: string[]): { finish: (rest: string[]) => void } {
    const time = this.#append(stream, parts, 'P');
    return {
      finish: (rest) => {
        this.#append(stream, rest, 'F');
        this.#expect(stream, parts.join('') + rest.join(''), time);
      },
    };
  }

  /** The kubelet's rotation: <n>.log -> <n>.log.<timestamp>; the runtime still writes there. */
  rotate(at: Date): string {
    const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    const rotated = `${this.path}.${stamp}`;
    renameSync(this.path, rotated);
    this.#target = rotated;
    return rotated;
  }

  /** The runtime's ReopenContainerLog: a new, empty <n>.log. */
  reopen(): void {
    writeFileSync(this.path, '');
    this.#target = this.path;
    this.#file += 1;
  }

  /** The container restarted: the runtime writes <n+1>.log next to the old one. */
  restarted(root: string): ContainerLogWriter {
    return new ContainerLogWriter(root, this.container, this.#clock, this.restartCount + 1);
  }

  #write(stream: Stream, parts: string[]): void {
    const time = this.#append(stream, parts, 'F');
    this.#expect(stream, parts.join(''), time);
  }

  #expect(stream: Stream, body: string, timeUnixNano: bigint): void {
    this.expected.push({ stream, body, timeUnixNano, file: this.#file });
  }

  /** Appends the parts, each with its own time, the last one tagged `last`; returns the first time. */
  #append(stream: Stream, parts: string[], last: 'P' | 'F'): bigint {
    const times = parts.map(() => this.#clock.next());
    const lines = parts.map(
      (text, i) =>
        `${criTime(times[i] ?? 0n)} ${stream} ${i === parts.length - 1 ? last : 'P'} ${text}\n`,
    );
    appendFileSync(this.#target, lines.join(''));
    return times[0] ?? 0n;
  }
}
