/**
 * Load-balancing policies: pick one server of a pool for a request.
 *
 * @module
 */

import type { Context } from "../context.ts";
import type { SharedSlots } from "../shared_slots.ts";
import { fnv1 } from "./hash.ts";
import type { LoadBalanceSpec } from "./spec.ts";

/** Picks a server index in [0, count). */
export type Picker = (ctx: Context, count: number) => number;

/** The turns of a roundRobin pool: each `next()` is one more than the last, from 0. */
export interface TurnCounter {
  next(): number;
  /** Gives up what the counter holds (its shared cell). */
  close(): void;
}

/** A counter of this isolate's own. */
export function localTurns(): TurnCounter {
  let turn = 0;
  return {
    next: () => {
      const current = turn;
      turn = (turn + 1) >>> 0;
      return current;
    },
    close: () => {},
  };
}

/**
 * A counter in the node's shared cells, so that the worker isolates of one
 * node take turns together: consecutive requests go round the servers in
 * order whichever worker serves them, as in one Easegress process.
 */
export function sharedTurns(slots: SharedSlots, name: string): TurnCounter {
  const cell = slots.cell(name);
  let closed = false;
  return {
    next: () => slots.increment(cell),
    close: () => {
      if (closed) return;
      closed = true;
      slots.release(cell);
    },
  };
}

/**
 * Builds the picker of a policy; `weights` is used by weightedRandom, `turns`
 * by roundRobin.
 */
export function createPicker(
  spec: LoadBalanceSpec,
  weights: readonly number[],
  turns: TurnCounter = localTurns(),
): Picker {
  switch (spec.policy) {
    case "random":
      return (_ctx, n) => Math.floor(Math.random() * n);
    case "weightedRandom": {
      const total = weights.reduce((a, b) => a + b, 0);
      if (total <= 0) return (_ctx, n) => Math.floor(Math.random() * n);
      return (_ctx, n) => {
        let x = Math.random() * total;
        for (let i = 0; i < n; i++) {
          x -= weights[i];
          if (x < 0) return i;
        }
        return n - 1;
      };
    }
    case "ipHash":
      return (ctx, n) => fnv1(ctx.realIP) % n;
    case "headerHash": {
      const key = spec.headerHashKey ?? "";
      // Go's Header.Get: a header sent twice is hashed by its first field.
      return (ctx, n) => fnv1(ctx.request.firstHeader(key) ?? "") % n;
    }
    default:
      return (_ctx, n) => turns.next() % n;
  }
}
