/**
 * `GET /logs?tail=N&follow=true`, as Easegress v2.1 and later serve the
 * node's own log (`<log-dir>/stdout.log`) to `egctl logs`: its last `tail`
 * lines (500 by default, -1 for all), then, with `follow`, what is written
 * to it until the client leaves.
 *
 * @module
 */

import { type AdminRoute, ApiError } from "./replies.ts";

/** What the route needs. */
export interface LogRouteContext {
  /** The node's log file. */
  logFile: string;
  /** Aborts when the node stops: followed logs end then, so the stop need not wait for them. */
  stopping: AbortSignal;
}

/** How often a followed log is looked at for new lines. */
const FOLLOW_POLL_MS = 250;
const READ_CHUNK = 64 * 1024;
const DEFAULT_TAIL = 500;

/** The log route, as the admin API's route table takes it. */
export const LOG_ROUTES: AdminRoute<LogRouteContext>[] = [
  {
    method: "GET",
    pattern: "/logs",
    handler: (req, _p, ctx) => serveLog(req, ctx.logFile, ctx.stopping),
  },
];

function parseQuery(url: URL): { tail: number; follow: boolean } {
  const tailText = url.searchParams.get("tail") ?? String(DEFAULT_TAIL);
  const tail = Number(tailText);
  if (!/^-?\d+$/.test(tailText) || tail < -1) {
    throw new ApiError(400, `invalid tail "${tailText}": a number of lines, or -1 for all`);
  }
  const followText = url.searchParams.get("follow") ?? "false";
  if (!["true", "false", "1", "0"].includes(followText)) {
    throw new ApiError(400, `invalid follow "${followText}": true or false`);
  }
  return { tail, follow: followText === "true" || followText === "1" };
}

async function serveLog(req: Request, path: string, stopping: AbortSignal): Promise<Response> {
  const { tail, follow } = parseQuery(new URL(req.url));
  const file = await Deno.open(path, { read: true });
  try {
    const end = await file.seek(0, Deno.SeekMode.End);
    const start = tail === -1 ? 0 : await startOfLastLines(file, end, tail);
    await file.seek(start, Deno.SeekMode.Start);
  } catch (error) {
    file.close();
    throw error;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    file.close();
    req.signal.removeEventListener("abort", close);
    stopping.removeEventListener("abort", close);
    wake?.();
  };
  req.signal.addEventListener("abort", close, { once: true });
  stopping.addEventListener("abort", close, { once: true });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const chunk = new Uint8Array(READ_CHUNK);
        let read: number | null = null;
        try {
          if (!closed) read = await file.read(chunk);
        } catch (error) {
          if (!closed) throw error;
        }
        if (read !== null && read > 0) {
          controller.enqueue(chunk.subarray(0, read));
          return;
        }
        if (!follow || closed) {
          close();
          // Ended by the node's stop or the file's end; a client that left has cancelled it.
          if (!req.signal.aborted) controller.close();
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, FOLLOW_POLL_MS);
        });
      }
    },
    cancel: close,
  });
  return new Response(body, {
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** Where the last `lines` lines before `end` start (a last line without "\n" counts). */
async function startOfLastLines(file: Deno.FsFile, end: number, lines: number): Promise<number> {
  if (lines === 0) return end;
  let seen = 0;
  let position = end;
  const chunk = new Uint8Array(READ_CHUNK);
  while (position > 0) {
    const start = Math.max(0, position - READ_CHUNK);
    await file.seek(start, Deno.SeekMode.Start);
    const length = position - start;
    let filled = 0;
    while (filled < length) {
      const read = await file.read(chunk.subarray(filled, length));
      if (read === null) break;
      filled += read;
    }
    for (let i = filled - 1; i >= 0; i--) {
      // The file's final newline ends its last line; it starts none.
      if (chunk[i] !== 0x0a || start + i === end - 1) continue;
      if (++seen === lines) return start + i + 1;
    }
    position = start;
  }
  return 0;
}
