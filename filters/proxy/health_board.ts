/**
 * One health checker per pool node-wide. Each data plane (worker isolate)
 * builds its own copy of a pool; had each checked its servers, a backend
 * would see one probe per worker each interval (16 on a 16-core machine),
 * and the workers would judge it apart, one taking a server out while
 * another still sends to it. The copies share a board in the node's shared
 * memory instead: the one that leads probes and posts its verdicts, the
 * others read them. A leader that stops beating (its worker crashed or is
 * stuck) is replaced by the next copy to look.
 *
 * @module
 */

import type { SharedRegions } from "../shared_regions.ts";
import { nameHash } from "../shared_slots.ts";

/** Servers a board holds verdicts for; further ones count as healthy in the other planes. */
export const BOARD_SERVERS = 1024;
/** A leader silent this long is taken over. */
export const LEADER_STALE_MS = 5_000;

// Int32 words of a board:
/** The leading plane's holder number + 1; 0: nobody leads. */
const LEADER = 0;
/** The leader's last beat, in seconds since BEAT_EPOCH_S. */
const BEAT = 1;
/** Bumped whenever the verdicts change. */
const GENERATION = 2;
/** Servers on the board. */
const COUNT = 3;
const HEADER_WORDS = 4;
/** Per server: two hashes of its URL, and 1 when healthy. */
const ENTRY_WORDS = 3;
/** Keeps the beat's seconds within an Int32 for a long while. */
const BEAT_EPOCH_S = 1_700_000_000;
/** The second hash's FNV offset basis. */
const SECOND_BASIS = 0x050c5d1f;

/** A pool's verdicts in the node's shared memory, as one of its planes sees them. */
export class HealthBoard {
  readonly #words: Int32Array;
  readonly #me: number;
  #giveUp: (() => void) | undefined;

  /** The board called `name` (the pool's) in `regions`, claimed for this plane. */
  constructor(regions: SharedRegions, name: string) {
    const words = HEADER_WORDS + BOARD_SERVERS * ENTRY_WORDS;
    const region = regions.claim(`health ${name}`, words * 4);
    this.#words = new Int32Array(region.buffer, region.offset, words);
    this.#me = regions.holder + 1;
    this.#giveUp = () => regions.release(region);
  }

  /**
   * Whether this plane leads: it did and goes on, or nobody did, or the
   * leader has not beaten for {@linkcode LEADER_STALE_MS}, and it takes
   * over. A plane that leads beats.
   */
  lead(nowMs = Date.now()): boolean {
    const words = this.#words;
    const now = Math.floor(nowMs / 1000) - BEAT_EPOCH_S;
    const leader = Atomics.load(words, LEADER);
    if (leader !== this.#me) {
      const stale = leader !== 0 && (now - Atomics.load(words, BEAT)) * 1000 >= LEADER_STALE_MS;
      if (leader !== 0 && !stale) return false;
      if (Atomics.compareExchange(words, LEADER, leader, this.#me) !== leader) return false;
    }
    Atomics.store(words, BEAT, now);
    return true;
  }

  /** Changes with every verdict posted that differs. */
  get generation(): number {
    return Atomics.load(this.#words, GENERATION);
  }

  /** Posts the leader's verdicts: each server's URL and whether it is healthy. */
  post(verdicts: Iterable<[string, boolean]>): void {
    const words = this.#words;
    let n = 0;
    let changed = false;
    for (const [url, healthy] of verdicts) {
      if (n === BOARD_SERVERS) break;
      const at = HEADER_WORDS + n++ * ENTRY_WORDS;
      const h = nameHash(url);
      const h2 = nameHash(url, SECOND_BASIS);
      const flag = healthy ? 1 : 0;
      if (words[at] !== h || words[at + 1] !== h2 || words[at + 2] !== flag) {
        Atomics.store(words, at, h);
        Atomics.store(words, at + 1, h2);
        Atomics.store(words, at + 2, flag);
        changed = true;
      }
    }
    if (Atomics.exchange(words, COUNT, n) !== n) changed = true;
    if (changed) Atomics.add(words, GENERATION, 1);
  }

  /** Of `urls`, those the board says are unhealthy (a server not on it is healthy). */
  unhealthyAmong(urls: Iterable<string>): Set<string> {
    const words = this.#words;
    const down = new Map<string, true>();
    const n = Atomics.load(words, COUNT);
    for (let i = 0; i < n; i++) {
      const at = HEADER_WORDS + i * ENTRY_WORDS;
      if (Atomics.load(words, at + 2) === 0) down.set(`${words[at]} ${words[at + 1]}`, true);
    }
    const out = new Set<string>();
    if (down.size === 0) return out;
    for (const url of urls) {
      if (down.has(`${nameHash(url)} ${nameHash(url, SECOND_BASIS)}`)) out.add(url);
    }
    return out;
  }

  /** Leaves the lead to another plane, and the board's memory once no plane holds it. */
  close(): void {
    Atomics.compareExchange(this.#words, LEADER, this.#me, 0);
    this.#giveUp?.();
    this.#giveUp = undefined;
  }
}
