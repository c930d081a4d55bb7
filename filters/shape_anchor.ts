/**
 * Keeps the newest object of a request-path class alive until the
 * isolate's next idle heap trim (server/idle_heap_trim.ts).
 *
 * V8 frees a hidden class once no object of that shape is left, and it
 * then throws away the optimized code that checks for it. In a quiet
 * isolate no request's objects are left, so without anchors the trim's
 * full collection costs the request path its optimized code (measured: 62
 * functions, against 7 with the anchors), and the next burst runs its first
 * second or two in slower code. An anchor holds one object, replaced by every
 * new one, and lets go of it right after the trim: the shapes survive that
 * collection, and nothing is held for longer than the quiet spell.
 *
 * The price: an isolate keeps its newest request's objects, body included,
 * until the next request or the trim (with trims off, `--heap-trim-after
 * 0s`, until the next request): one request's worth, never a growing set.
 *
 * @module
 */

/** The newest object of one class, held until the next trim. */
export class ShapeAnchor {
  /** Set by the class's constructor: one store per object. */
  latest: object | null = null;
}

const anchors: ShapeAnchor[] = [];

/** A new anchor, let go of by {@linkcode releaseShapeAnchors}; made once per class, at module load. */
export function shapeAnchor(): ShapeAnchor {
  const anchor = new ShapeAnchor();
  anchors.push(anchor);
  return anchor;
}

/** Lets go of every anchored object: called once the trim's collections are done. */
export function releaseShapeAnchors(): void {
  for (const anchor of anchors) anchor.latest = null;
}
