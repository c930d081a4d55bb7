/**
 * Serializes HTTP/1.1 response heads: status line, the response's own
 * headers (minus those describing the connection, which the server writes
 * itself), Date, and the body framing, as one string for one write.
 *
 * @module
 */

import { HeaderFields } from "../../../filters/header_fields.ts";
import { reasonPhrase } from "../../../filters/status_text.ts";
import { hasToken } from "../../../filters/proxy/http1_parser.ts";

/** How the connection carries a response; the head may turn `close` on. */
export interface ResponseFraming {
  /** Close the connection after this response. */
  close: boolean;
  /** The client spoke HTTP/1.0 (keep-alive must be said explicitly). */
  http10: boolean;
}

/** Written by the server from the connection's state, never copied from a response. */
const SERVER_OWNED: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "proxy-connection",
  "upgrade",
]);

// State for appendHeader: serializing is synchronous, so one scratch string
// serves every response and no closure is allocated per response.
let scratch = "";
let scratchHasDate = false;
let scratchHasCookies = false;
let scratchClose = false;

/** One field of a `Headers`' combined view, where Set-Cookie lines are joined. */
function appendHeader(value: string, name: string): void {
  if (name === "set-cookie") {
    // Joined here; each is written on its own line from getSetCookie().
    scratchHasCookies = true;
    return;
  }
  appendField(value, name);
}

/** One field as received, repeats (Set-Cookie included) on lines of their own. */
function appendField(value: string, name: string): void {
  if (SERVER_OWNED.has(name)) {
    // A handler asks for the connection to end with "Connection: close".
    if (name === "connection" && hasToken(value, "close")) scratchClose = true;
    return;
  }
  if (name === "date") scratchHasDate = true;
  scratch += name + ": " + value + "\r\n";
}

let dateSecond = -1;
let dateValue = "";
let dateLine = "";

/** The Date header's value for now, formatted once per second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
    dateLine = "date: " + dateValue + "\r\n";
  }
  return dateValue;
}

/** The Date header line, formatted once per second. */
function dateHeader(): string {
  httpDate();
  return dateLine;
}

/**
 * The head for `status` and `headers`, ending with the blank line. `line` is
 * the body-framing header line (`"content-length: 5\r\n"`,
 * `"transfer-encoding: chunked\r\n"` or `""`). A `Connection: close` among
 * `headers` turns `framing.close` on.
 */
export function serializeResponseHead(
  status: number,
  headers: Headers,
  line: string,
  framing: ResponseFraming,
): string {
  scratch = "HTTP/1.1 " + status + " " + reasonPhrase(status) + "\r\n";
  scratchHasDate = false;
  scratchHasCookies = false;
  scratchClose = false;
  if (headers instanceof HeaderFields) headers.forEachField(appendField);
  else headers.forEach(appendHeader);
  let head = scratch;
  scratch = "";
  if (scratchClose) framing.close = true;
  if (scratchHasCookies) {
    for (const cookie of headers.getSetCookie()) head += "set-cookie: " + cookie + "\r\n";
  }
  if (!scratchHasDate) head += dateHeader();
  if (framing.close) head += "connection: close\r\n";
  else if (framing.http10) head += "connection: keep-alive\r\n";
  return head + line + "\r\n";
}
