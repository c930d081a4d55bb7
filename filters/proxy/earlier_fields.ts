/**
 * The header fields of a response an earlier filter made (a CORSAdaptor's
 * for an actual request, say) carried onto the upstream's answer that takes
 * its place, as Easegress v2.1 and later merge them: without this, a
 * CORSAdaptor before the Proxy lost its Access-Control-Allow-Origin on every
 * answer that succeeded, and browsers refused those answers.
 *
 * @module
 */

import type { HttpResponse } from "../context.ts";
import { forEachHeaderField } from "../header_fields.ts";

/** Fields that describe the earlier response's body, which the upstream's replaces. */
const BODY_FIELDS: ReadonlySet<string> = new Set([
  "content-length",
  "content-type",
  "content-encoding",
  "transfer-encoding",
]);

/** Lists a response may gather from several sources: the earlier values join the upstream's. */
const JOINED_FIELDS: ReadonlySet<string> = new Set(["vary", "set-cookie"]);

/**
 * Appends to `response` the fields of `earlier` the upstream did not send
 * itself (its Vary and Set-Cookie values join the upstream's), except those
 * describing the earlier body. The upstream's own fields stand: a browser
 * refuses an answer with two Access-Control-Allow-Origin, as Easegress lets
 * the upstream's CORS fields stand, and an answer taking the place of an
 * earlier upstream's (a second Proxy after a failure code) gets no second
 * Date or Cache-Control, which Easegress's merge appended.
 */
export function keepEarlierFields(response: HttpResponse, earlier: HttpResponse): void {
  const upstream = response.rawHeaders;
  const kept: [string, string][] = [];
  forEachHeaderField(earlier.rawHeaders, (value, name) => {
    if (BODY_FIELDS.has(name)) return;
    if (!JOINED_FIELDS.has(name) && upstream.has(name)) return;
    kept.push([name, value]);
  });
  if (kept.length === 0) return;
  const headers = response.headers;
  for (const [name, value] of kept) headers.append(name, value);
}
