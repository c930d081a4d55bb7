/**
 * Load-balancing policies: pick one server of a pool for a request.
 *
 * @module
 */

import type { Context } from "../context.ts";
import { fnv1 } from "./hash.ts";
import type { LoadBalanceSpec } from "./spec.ts";

/** Picks a server index in [0, count). */
export type Picker = (ctx: Context, count: number) => number;

/** Builds the picker of a policy; `weights` is used by weightedRandom. */
export function createPicker(spec: LoadBalanceSpec, weights: readonly number[]): Picker {
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
      return (ctx, n) => fnv1(ctx.request.header(key) ?? "") % n;
    }
    default: {
      let next = 0;
      return (_ctx, n) => {
        const i = next % n;
        next = (i + 1) % n;
        return i;
      };
    }
  }
}
