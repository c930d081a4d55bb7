/**
 * Small path helpers, so the project needs no path library.
 *
 * @module
 */

/** Joins path parts with "/", dropping empty ones and duplicate slashes. */
export function joinPath(...parts: string[]): string {
  return parts.filter(Boolean).join("/").replace(/\/{2,}/g, "/");
}

/** A file URL for a path, relative paths taken from the working directory. */
export function toFileUrl(path: string): string {
  const absolute = path.startsWith("/") ? path : joinPath(Deno.cwd(), path);
  return new URL(`file://${absolute.split("/").map(encodeURIComponent).join("/")}`).href;
}
