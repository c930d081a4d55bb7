/**
 * An error's message for logs and statuses, with its cause's: fetch, for
 * one, says only "fetch failed" and puts what failed in the cause.
 *
 * @module
 */

/** `e`'s message, followed by its cause's when it has one. */
export function errorText(e: unknown): string {
  const error = e as Error;
  const cause = error?.cause as Error | undefined;
  return cause?.message ? `${error.message}: ${cause.message}` : String(error?.message ?? e);
}
