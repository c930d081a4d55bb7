/**
 * Names and ids as they go into admin API paths.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/**
 * `value` as one URL path segment. "." and ".." are refused: fetch resolves
 * them as dot segments, which would call another route (`object get ..`
 * would print the API list and succeed).
 */
export function segment(value: string): string {
  if (value === "." || value === "..") {
    throw new UsageError(
      `"${value}" is not a valid name: "." and ".." cannot be sent in a URL path`,
    );
  }
  return encodeURIComponent(value);
}
