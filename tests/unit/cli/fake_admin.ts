/**
 * A stand-in for a node's admin API in `ctl` unit tests: an injectable
 * `fetch` that records each request and answers from canned routes.
 *
 * @module
 */

/** One request the fake received. */
export interface RecordedCall {
  /** HTTP method. */
  method: string;
  /** Full request URL. */
  url: string;
  /** Path below the admin API prefix, e.g. `/objects/x`. */
  path: string;
  /** Request headers. */
  headers: Headers;
  /** Request body text (`""` when none). */
  body: string;
}

/** A canned answer: a status with a body, or a function of the call. */
export type Route =
  | { status: number; body?: string; headers?: Record<string, string> }
  | ((call: RecordedCall) => Response);

/** An injectable fetch plus the calls it saw. */
export interface FakeAdmin {
  /** Pass this as `io.fetch`. */
  fetch: typeof fetch;
  /** Every request, in order. */
  calls: RecordedCall[];
}

/**
 * Creates a fake admin API. `routes` maps `"METHOD /path"` (path below
 * `/apis/v2`) to an answer; anything else gets the node's 404 error body.
 */
export function fakeAdmin(routes: Record<string, Route> = {}): FakeAdmin {
  const calls: RecordedCall[] = [];
  const fakeFetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const call: RecordedCall = {
      method: request.method,
      url: request.url,
      path: url.pathname.replace(/^\/apis\/v2/, ""),
      headers: request.headers,
      body: await request.text(),
    };
    calls.push(call);
    const route = routes[`${call.method} ${call.path}`];
    if (route === undefined) {
      return new Response("code: 404\nmessage: not found\n", { status: 404 });
    }
    if (typeof route === "function") return route(call);
    return new Response(route.body ?? "", { status: route.status, headers: route.headers });
  };
  return { fetch: fakeFetch as typeof fetch, calls };
}

/** Output captured from one `runCtl` run. */
export interface Captured {
  /** Everything written to stdout. */
  out: string;
  /** Everything written to stderr. */
  err: string;
  /** Pass as `io.stdout`. */
  stdout: (s: string) => void;
  /** Pass as `io.stderr`. */
  stderr: (s: string) => void;
}

/** Collects stdout and stderr text. */
export function capture(): Captured {
  const captured: Captured = {
    out: "",
    err: "",
    stdout: (s) => {
      captured.out += s;
    },
    stderr: (s) => {
      captured.err += s;
    },
  };
  return captured;
}

/** A stdin stream holding `text`. */
export function stdinOf(text: string | Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array> {
  return new Blob([text]).stream();
}
