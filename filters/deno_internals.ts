/**
 * The runtime's internal namespace (`Deno[Deno.internal]`), looked up once
 * for the few internals the node uses where no public API does the job.
 * Each user checks that what it needs is there and otherwise falls back to
 * public APIs.
 *
 * @module
 */

/** `Deno[Deno.internal]`, or undefined on a runtime without it. */
export const denoInternals: Record<string, unknown> | undefined =
  (Deno as unknown as Record<symbol, Record<string, unknown> | undefined>)[
    (Deno as unknown as { internal: symbol }).internal
  ];
