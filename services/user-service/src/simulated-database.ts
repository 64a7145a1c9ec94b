// The simulated database: one table, `users`, seeded deterministically (same rows on every start and
// on every machine), ids 1..500. User 123 exists; 999 does not.

import type { User } from '@nos/service-kit';

export type { User } from '@nos/service-kit';

export const USER_COUNT = 500;

const FIRST = [
  'Ada',
  'Alan',
  'Grace',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Dennis',
  'Radia',
  'Leslie',
  'Sophie',
  'John',
  'Hedy',
  'Tim',
];
const LAST = [
  'Lovelace',
  'Turing',
  'Hopper',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Ritchie',
  'Perlman',
  'Lamport',
  'Wilson',
  'McCarthy',
  'Lamarr',
  'Berners-Lee',
];

/** mulberry32: a tiny seeded PRNG, so the seed data is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedUsers(count = USER_COUNT, seed = 42): Map<number, User> {
  const random = seededRandom(seed);
  const pick = (list: readonly string[]) => list[Math.floor(random() * list.length)] ?? '';
  const table = new Map<number, User>();
  for (let id = 1; id <= count; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const name = `${first} ${last}`;
    const email = `${first}.${last}.${id}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
    table.set(id, { id, name, email });
  }
  return table;
}
