/**
 * Names a URL path cannot carry: "." and "..", which clients resolve as dot
 * segments before sending, so an object or custom data item named so could
 * be created but never read, updated or deleted again.
 *
 * @module
 */

/** Whether `name` is "." or "..", which no URL path segment can hold. */
export function isDotSegment(name: string): boolean {
  return name === "." || name === "..";
}
