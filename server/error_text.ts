/**
 * An error's message for logs and statuses, with its cause's: fetch, for
 * one, says only "fetch failed" and puts what failed in the cause.
 *
 * @module
 */

/**
 * `e`'s message, followed by its cause's when it has one that the message
 * does not already quote (the store's "etcd ... is unavailable (...)" does).
 */
export function errorText(e: unknown): string {
  const error = e as Error;
  const cause = error?.cause as Error | undefined;
  const message = String(error?.message ?? e);
  return cause?.message && !message.includes(cause.message)
    ? `${message}: ${cause.message}`
    : message;
}
