/**
 * A WebAssembly module instance on Easegress's ABI, serving one request at
 * a time: the `easegress` host functions read and change the request and
 * response of the {@linkcode Context} it runs for (see wasm_abi.ts for how
 * values cross the module's memory).
 *
 * @module
 */

import { goHeader, UrlView } from "./builder_data.ts";
import { goEscapePath } from "./go_escaped_path.ts";
import { type Context, HttpResponse, type Message } from "./context.ts";
import { toHeaderValue } from "./header_adapt.ts";
import { headerLines, parseHeaderLines, WasmMemory } from "./wasm_abi.ts";
import { floatOf, integerOf, type WasmClusterData } from "./wasm_cluster_data.ts";
import { wasiImports } from "./wasm_wasi.ts";

/** Where `host_log` lines go: Easegress's levels, 0 debug, 1 info, 2 warn, 3 error. */
export type WasmLog = (level: number, message: string) => void;

type HostFunction = (...args: never[]) => number | bigint | void;

/** One instance of the module with the request it is serving. */
export class WasmVM {
  #ctx: Context | undefined;
  readonly #memory: WasmMemory;
  readonly #run: () => number;

  /**
   * Instantiates `module` and calls its `wasm_init` with `parameters`;
   * `data` is its cluster data; throws naming a missing export or import.
   */
  constructor(
    module: WebAssembly.Module,
    parameters: Record<string, string>,
    data: WasmClusterData,
    log: WasmLog,
  ) {
    // The host functions reach the memory only once the instance runs.
    const mem = () => this.#memory;
    let exports: WebAssembly.Exports = {};
    const instance = new WebAssembly.Instance(module, {
      ...wasiImports(module, () => exports.memory as WebAssembly.Memory, log),
      easegress: hostFunctions(() => this.#context(), mem, data, log) as WebAssembly.ModuleImports,
    });
    exports = instance.exports;
    for (const name of ["memory", "wasm_alloc", "wasm_run"]) {
      if (!(name in exports)) throw new Error(`the module does not export ${name}`);
    }
    this.#memory = new WasmMemory(
      exports.memory as WebAssembly.Memory,
      exports.wasm_alloc as (size: number) => number,
    );
    this.#run = exports.wasm_run as () => number;
    const init = exports.wasm_init as ((ptr: number) => void) | undefined;
    if (init) {
      init(this.#memory.writeStringArray(Object.entries(parameters).flat()));
    }
  }

  #context(): Context {
    if (!this.#ctx) throw new Error("a host function was called outside wasm_run");
    return this.#ctx;
  }

  /** Runs `wasm_run` for `ctx`; returns its number. */
  run(ctx: Context): number {
    this.#ctx = ctx;
    try {
      return this.#run();
    } finally {
      this.#ctx = undefined;
    }
  }
}

/**
 * A stored value as `host_cluster_get_binary` gives it: decoded from base64,
 * or empty when it is not base64 (a string put by `ctl wasm apply-data` or
 * `host_cluster_put_string`), as Go's decoder error is ignored there.
 */
function binaryOf(value: string | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array();
  try {
    return Uint8Array.fromBase64(value);
  } catch {
    return new Uint8Array();
  }
}

function cookies(headerValue: string | null): string[] {
  if (!headerValue) return [];
  return headerValue.split(";").map((c) => c.trim()).filter((c) => c.includes("="));
}

/** The response, made (200, empty) when there is none yet. */
function responseOf(ctx: Context): HttpResponse {
  return ctx.response ??= new HttpResponse(200);
}

function bufferedBody(message: Message): Uint8Array {
  const body = message.bufferedBody;
  if (body === undefined) throw new Error("the body was not read before the call");
  return body;
}

/** The `easegress` import object: every host function of Easegress v2. */
function hostFunctions(
  ctx: () => Context,
  mem: () => WasmMemory,
  data: WasmClusterData,
  log: WasmLog,
): Record<string, HostFunction> {
  const str = (addr: number) => mem().readString(addr);
  const out = (text: string) => mem().writeString(text);
  const req = () => ctx().request;
  const setHeader = (message: Message, name: number, value: number, add: boolean) => {
    const key = str(name);
    const v = toHeaderValue(str(value));
    if (add) message.headers.append(key, v);
    else message.headers.set(key, v);
  };
  const setAllHeaders = (message: Message, addr: number) => {
    const headers = new Headers();
    for (const [name, value] of parseHeaderLines(str(addr))) headers.append(name, value);
    message.headers = headers;
  };
  // Go's request Header holds no Host: it is the request's own field.
  const allHeaders = (message: Message, skipHost = false) =>
    out(headerLines(goHeader(message.headers, skipHost)));
  // Go's URL.Path is decoded and EscapedPath is how it goes on the wire; ours is kept escaped.
  const url = () => new UrlView(req().path, "");
  return {
    host_req_get_real_ip: () => out(ctx().realIP),
    host_req_get_scheme: () => out(req().scheme),
    host_req_get_proto: () => out(req().proto),
    host_req_get_method: () => out(req().method),
    host_req_set_method: (addr: number) => void (req().method = str(addr).toUpperCase()),
    host_req_get_host: () => out(req().host),
    host_req_set_host: (addr: number) => {
      req().host = str(addr);
      req().headers.set("host", req().host);
    },
    host_req_get_path: () => out(url().Path),
    // Go's URL.Path is set, decoded: all of it is escaped for the wire, a "%" too.
    host_req_set_path: (addr: number) => {
      req().keepRequestURI();
      req().path = goEscapePath(str(addr));
    },
    host_req_get_escaped_path: () => out(url().EscapedPath()),
    host_req_get_query: () => out(req().query),
    host_req_set_query: (addr: number) => {
      req().keepRequestURI();
      req().query = str(addr);
    },
    host_req_get_fragment: () => out(""),
    // Go's Header.Get: a header sent twice gives its first field.
    host_req_get_header: (addr: number) => out(req().firstHeader(str(addr)) ?? ""),
    host_req_get_all_header: () => allHeaders(req(), true),
    host_req_set_header: (name: number, value: number) => setHeader(req(), name, value, false),
    host_req_set_all_header: (addr: number) => setAllHeaders(req(), addr),
    host_req_add_header: (name: number, value: number) => setHeader(req(), name, value, true),
    host_req_del_header: (addr: number) => req().headers.delete(str(addr)),
    host_req_get_cookie: (addr: number) => {
      const name = str(addr);
      return out(cookies(req().cookieHeader()).find((c) => c.startsWith(`${name}=`)) ?? "");
    },
    host_req_get_all_cookie: () => mem().writeStringArray(cookies(req().cookieHeader())),
    host_req_add_cookie: (addr: number) => {
      const current = req().header("cookie");
      req().headers.set("cookie", current ? `${current}; ${str(addr)}` : str(addr));
    },
    host_req_get_body: () => mem().writeData(bufferedBody(req())),
    host_req_set_body: (addr: number) => {
      const body = mem().readData(addr);
      req().body = body;
      req().headers.set("content-length", String(body.length));
      req().headers.delete("transfer-encoding");
    },
    host_resp_get_status_code: () => ctx().response?.status ?? 0,
    host_resp_set_status_code: (code: number) => void (responseOf(ctx()).status = code),
    host_resp_get_header: (addr: number) => out(ctx().response?.firstHeader(str(addr)) ?? ""),
    host_resp_get_all_header: () =>
      out(ctx().response ? headerLines(goHeader(ctx().response!.headers)) : ""),
    host_resp_set_header: (name: number, value: number) =>
      setHeader(responseOf(ctx()), name, value, false),
    host_resp_set_all_header: (addr: number) => setAllHeaders(responseOf(ctx()), addr),
    host_resp_add_header: (name: number, value: number) =>
      setHeader(responseOf(ctx()), name, value, true),
    host_resp_del_header: (addr: number) => ctx().response?.headers.delete(str(addr)),
    host_resp_set_cookie: (addr: number) =>
      responseOf(ctx()).headers.append("set-cookie", str(addr)),
    host_resp_get_body: () =>
      mem().writeData(ctx().response ? bufferedBody(ctx().response!) : new Uint8Array()),
    host_resp_set_body: (addr: number) => {
      const response = responseOf(ctx());
      const body = mem().readData(addr);
      response.body = body;
      response.headers.set("content-length", String(body.length));
      response.headers.delete("transfer-encoding");
    },
    host_cluster_get_binary: (addr: number) => mem().writeData(binaryOf(data.get(str(addr)))),
    host_cluster_put_binary: (key: number, value: number) =>
      data.put(str(key), mem().readData(value).toBase64()),
    host_cluster_get_string: (addr: number) => out(data.get(str(addr)) ?? ""),
    host_cluster_put_string: (key: number, value: number) => data.put(str(key), str(value)),
    host_cluster_get_integer: (addr: number) => integerOf(data.get(str(addr))),
    host_cluster_put_integer: (key: number, value: bigint) => data.put(str(key), String(value)),
    host_cluster_add_integer: (key: number, addend: bigint) => data.addInteger(str(key), addend),
    host_cluster_get_float: (addr: number) => floatOf(data.get(str(addr))),
    host_cluster_put_float: (key: number, value: number) => data.put(str(key), String(value)),
    host_cluster_add_float: (key: number, addend: number) => data.addFloat(str(key), addend),
    host_cluster_count_key: (addr: number) => data.countPrefix(str(addr)),
    host_add_tag: (addr: number) => ctx().addTag(str(addr)),
    host_log: (level: number, addr: number) => log(level, str(addr)),
    host_get_unix_time_in_ms: () => BigInt(Date.now()),
    host_rand: () => Math.random(),
  };
}
