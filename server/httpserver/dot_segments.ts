/**
 * Dot segments ("." and "..", plain or percent-encoded) taken out of a
 * request path before it is routed, as RFC 3986 section 5.2.4 resolves
 * them and as a WHATWG URL (HTTP/3, `node:http2`) already does;
 * `Deno.serve` (`--http1-server deno`) hands them over as sent.
 * Routed as sent, `/public/../admin` would match a `/public` rule and
 * reach a backend that reads it as `/admin`, past whatever guards the
 * `/admin` rule; forwarded as routed, the backend sees the path the rules
 * judged.
 *
 * @module
 */

const DOT = 46;
const PERCENT = 37;

/**
 * `path` (origin-form, starting with "/") without its dot segments; `path`
 * itself, unchanged, when it has none. A ".." above the root stays at the
 * root; a path ending in a dot segment keeps its trailing slash.
 */
export function removeDotSegments(path: string): string {
  if (!mayHaveDotSegment(path)) return path;
  const segments = path.split("/");
  const kept: string[] = [""];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const dots = dotSegment(segments[i]);
    if (dots === 0) {
      kept.push(segments[i]);
      continue;
    }
    if (dots === 2 && kept.length > 1) kept.pop();
    // "/a/b/.." is the directory "/a/", not "/a".
    if (i === last) kept.push("");
  }
  return kept.length === 1 ? "/" : kept.join("/");
}

/** Whether a slash is followed by "." or "%2e", the start of any dot segment. */
function mayHaveDotSegment(path: string): boolean {
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    const next = path.charCodeAt(i + 1);
    if (next === DOT || (next === PERCENT && isEncodedDot(path, i + 1))) return true;
  }
  return false;
}

/** Whether `%2e` or `%2E` starts at `at`. */
function isEncodedDot(text: string, at: number): boolean {
  return text.charCodeAt(at) === PERCENT && text.charCodeAt(at + 1) === 50 &&
    (text.charCodeAt(at + 2) | 0x20) === 101;
}

/** 1 for ".", 2 for "..", each dot plain or as `%2e`; 0 for any other segment. */
function dotSegment(segment: string): number {
  let dots = 0;
  for (let i = 0; i < segment.length;) {
    if (segment.charCodeAt(i) === DOT) i++;
    else if (isEncodedDot(segment, i)) i += 3;
    else return 0;
    if (++dots > 2) return 0;
  }
  return dots;
}
