/**
 * The path patterns of an HTTPServer's `topN`, clustered as Easegress's
 * URL cluster analyzer does: a path segment that has taken more than 20
 * distinct values at its place becomes `*`, so `/users/123/friends/456`
 * is counted as `/users/* /friends/*` once users are many, and as itself
 * while they are few.
 *
 * @module
 */

/** Distinct values a segment takes before it is a variable (`*`). */
const MAX_VALUES = 20;
/** Paths of this many segments or more share one tree. */
const MAX_LAYERS = 256;
/** Paths whose pattern is remembered. */
const CACHE_SIZE = 4098;
/**
 * Constant segments learned at most: past them, a new value is taken as a
 * variable at once, so clients sending endless distinct paths cannot grow
 * the tree without bound.
 */
const MAX_SEGMENTS = 10_000;

/** One segment's place in the tree of paths seen. */
interface Segment {
  /** The pattern of the path up to and including this segment. */
  pattern: string;
  /** The constant segments seen after this one, by value. */
  readonly next: Map<string, Segment>;
  /** Set once more than MAX_VALUES values followed this segment. */
  variable?: Segment;
}

function segment(pattern: string): Segment {
  return { pattern, next: new Map() };
}

/** Clusters request paths into patterns, learning their segments as they come. */
export class UrlClusterAnalyzer {
  /** A tree per number of segments, as paths of different depths never share a pattern. */
  readonly #roots: Segment[] = [];
  readonly #cache = new Map<string, string>();
  #segments = 0;

  /** The pattern `path` is counted under. */
  pattern(path: string): string {
    if (path === "") return "";
    const cached = this.#cache.get(path);
    if (cached !== undefined) return cached;
    const values = (path[0] === "/" ? path.slice(1) : path).split("/");
    const depth = Math.min(values.length, MAX_LAYERS - 1);
    let at = this.#roots[depth] ??= segment("");
    for (const value of values) at = this.#step(at, value);
    // A path keeps the pattern it was first given, as Easegress's cache does.
    if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(path, at.pattern);
    return at.pattern;
  }

  /** The segment after `at` for `value`, learning it (or that the place is variable). */
  #step(at: Segment, value: string): Segment {
    if (at.variable !== undefined) return at.variable;
    const known = at.next.get(value);
    if (known !== undefined) return known;
    if (at.next.size < MAX_VALUES && this.#segments < MAX_SEGMENTS) {
      const added = segment(`${at.pattern}/${value}`);
      at.next.set(value, added);
      this.#segments++;
      return added;
    }
    at.variable = segment(`${at.pattern}/*`);
    return at.variable;
  }
}
