/**
 * The admin API's request log, `admin_api.log` in the log dir, one line per
 * request as Easegress writes it:
 * `METHOD remoteAddr path status rx:<request body>B tx:<response body>B start:<RFC 3339> process:<duration>`,
 * written when the answer ends, or when its client leaves first (`tx` the bytes sent by then).
 */

import { millisecondsString } from "../../filters/template/goduration.ts";
import type { LogFile } from "../log.ts";

/**
 * Writes one line per admin request to `file`; the line is written once the
 * response body is sent or its client leaves.
 */
export class AdminApiLog {
  #file: LogFile;
  #encoder = new TextEncoder();

  constructor(file: LogFile) {
    this.#file = file;
  }

  /** Answers `request` with `handle`, logging the exchange. */
  async serve(
    request: Request,
    remoteAddr: string,
    handle: (request: Request) => Promise<Response> | Response,
  ): Promise<Response> {
    const startedAt = new Date();
    const start = performance.now();
    const rx = requestLength(request);
    const path = new URL(request.url).pathname;
    const response = await handle(request);
    const write = (tx: number) =>
      this.#write(
        `${request.method} ${remoteAddr} ${path} ${response.status} rx:${rx}B tx:${tx}B ` +
          `start:${rfc3339(startedAt)} process:${millisecondsString(performance.now() - start)}`,
      );
    if (response.body === null) {
      write(0);
      return response;
    }
    let tx = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          tx += chunk.byteLength;
          controller.enqueue(chunk);
        },
        flush() {
          write(tx);
        },
        // A client that left (a followed log ends so) or a body that failed is logged too.
        cancel() {
          write(tx);
        },
      }),
    );
    return new Response(counted, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  #write(line: string): void {
    try {
      this.#file.writeSync(this.#encoder.encode(line + "\n"));
    } catch { /* disk full or closed: logging must not break the API */ }
  }

  close(): void {
    try {
      this.#file.close();
    } catch { /* closed already */ }
  }
}

/**
 * The request body's length as Go's `Request.ContentLength` gives it, which
 * Easegress logs: its Content-Length, 0 without a body, -1 when the length
 * is not known ahead (chunked), where 0 was logged as for no body.
 */
function requestLength(request: Request): number {
  const declared = request.headers.get("content-length");
  if (declared !== null) return Number(declared) || 0;
  // The server hands a stream over even for no body; only a chunked one has a length unknown.
  return request.headers.has("transfer-encoding") ? -1 : 0;
}

/** RFC 3339 in UTC to the second, as Go's time.RFC3339 writes it. */
function rfc3339(date: Date): string {
  return date.toISOString().slice(0, 19) + "Z";
}
