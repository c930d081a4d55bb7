/**
 * The WasmHost filter, as Easegress's: a WebAssembly module written against
 * Easegress's SDKs (AssemblyScript, Go, Rust) runs for each request. The
 * module exports `memory`, `wasm_alloc`, `wasm_free`, `wasm_run` and
 * optionally `wasm_init`, which gets `parameters` as a string array of
 * key/value pairs; it reads and changes the request and response through
 * the `easegress` host functions (`host_req_*`, `host_resp_*`,
 * `host_cluster_*`, `host_add_tag`, `host_log`, ...). `wasm_run` returning
 * 0 goes on, 1 to 9 returns `wasmResult1`..`wasmResult9`; a trap returns
 * `wasmError` (500).
 *
 * Calls into the module are synchronous and run to completion, so one
 * instance serves the requests of an isolate in turn (`maxConcurrency` is
 * accepted; there is never more than one call at a time), and `timeout`
 * cannot interrupt a module that loops: the runtime has no way to stop a
 * WebAssembly call from its own thread. A body is read before the call
 * only for modules that import a body getter. Unlike Easegress, the
 * `host_resp_*` setters make a 200 response when there is none yet (there,
 * they failed before a Proxy or Mock), and the `host_cluster_*` data lives
 * in the filter's memory, per worker, where Easegress keeps it in etcd.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { goHeader } from "./builder_data.ts";
import { type Context, HttpResponse, type Message } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { toHeaderValue } from "./header_adapt.ts";
import { parseDuration, SpecReader } from "./spec.ts";
import { headerLines, parseHeaderLines, WasmMemory } from "./wasm_abi.ts";

/** The WasmHost spec, normalized. */
export interface WasmHostSpec {
  maxConcurrency: number;
  /** An http(s) URL, a file path, or the module in base64. */
  code: string;
  timeout: string;
  parameters: Record<string, string>;
}

/** The module trapped or could not be run. */
export const RESULT_WASM_ERROR = "wasmError";
/** No instance was available. */
export const RESULT_OUT_OF_VM = "outOfVM";
const RESULTS = [
  RESULT_OUT_OF_VM,
  RESULT_WASM_ERROR,
  ...Array.from({ length: 9 }, (_, i) => `wasmResult${i + 1}`),
];

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

function isWasm(bytes: Uint8Array): boolean {
  return WASM_MAGIC.every((b, i) => bytes[i] === b);
}

/** The module bytes of `code` when it is base64, else undefined. */
function inlineModule(code: string): Uint8Array | undefined {
  try {
    const bytes = decodeBase64(code.replace(/\s+/g, ""));
    return isWasm(bytes) ? bytes : undefined;
  } catch {
    return undefined;
  }
}

function validate(raw: Record<string, unknown>): WasmHostSpec {
  const r = SpecReader.root(raw);
  const spec: WasmHostSpec = {
    maxConcurrency: r.int("maxConcurrency", { default: 10, min: 1 }),
    code: r.string("code", { required: true }) ?? "",
    timeout: r.duration("timeout", { default: "100ms" }),
    parameters: r.stringMap("parameters") ?? {},
  };
  if ((parseDuration(spec.timeout) ?? 0) <= 0) r.problem("timeout", "must be a positive duration");
  const inline = spec.code ? inlineModule(spec.code) : undefined;
  if (inline) {
    try {
      new WebAssembly.Module(inline as BufferSource);
    } catch (e) {
      r.problem("code", `is not a valid WebAssembly module: ${(e as Error).message}`);
    }
  } else if (spec.code && !/^https?:\/\//.test(spec.code)) {
    try {
      if (!Deno.statSync(spec.code).isFile) r.problem("code", `${spec.code} is not a file`);
    } catch (e) {
      r.problem(
        "code",
        `is neither base64 WebAssembly, an http(s) URL nor a readable file: ${
          (e as Error).message
        }`,
      );
    }
  }
  r.finish();
  r.throwIfProblems();
  return spec;
}

async function loadModule(code: string): Promise<WebAssembly.Module> {
  let bytes = inlineModule(code);
  if (!bytes) {
    if (/^https?:\/\//.test(code)) {
      const response = await fetch(code);
      if (!response.ok) throw new Error(`${code} answered ${response.status}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    } else bytes = await Deno.readFile(code);
  }
  if (!isWasm(bytes)) throw new Error(`${code} is not WebAssembly`);
  return await WebAssembly.compile(bytes as BufferSource);
}

type HostFunction = (...args: never[]) => number | bigint | void;

/** One instance of the module with the request it is serving. */
class WasmVM {
  #ctx: Context | undefined;
  readonly #memory: WasmMemory;
  readonly #run: () => number;

  constructor(
    module: WebAssembly.Module,
    spec: WasmHostSpec,
    data: Map<string, string>,
    log: Logger,
  ) {
    // The host functions reach the memory only once the instance runs.
    const mem = () => this.#memory;
    const instance = new WebAssembly.Instance(module, {
      easegress: hostFunctions(() => this.#context(), mem, data, log) as WebAssembly.ModuleImports,
    });
    const exports = instance.exports;
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
      init(this.#memory.writeStringArray(Object.entries(spec.parameters).flat()));
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
  data: Map<string, string>,
  log: Logger,
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
  const allHeaders = (message: Message) => out(headerLines(goHeader(message.headers)));
  const numberOf = (text: string | undefined) => {
    const n = Number(text);
    return Number.isFinite(n) ? n : 0;
  };
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
    host_req_get_path: () => out(req().path),
    host_req_set_path: (addr: number) => void (req().path = str(addr)),
    host_req_get_escaped_path: () => out(req().path),
    host_req_get_query: () => out(req().query),
    host_req_set_query: (addr: number) => void (req().query = str(addr)),
    host_req_get_fragment: () => out(""),
    host_req_get_header: (addr: number) => out(req().header(str(addr)) ?? ""),
    host_req_get_all_header: () => allHeaders(req()),
    host_req_set_header: (name: number, value: number) => setHeader(req(), name, value, false),
    host_req_set_all_header: (addr: number) => setAllHeaders(req(), addr),
    host_req_add_header: (name: number, value: number) => setHeader(req(), name, value, true),
    host_req_del_header: (addr: number) => req().headers.delete(str(addr)),
    host_req_get_cookie: (addr: number) => {
      const name = str(addr);
      return out(cookies(req().header("cookie")).find((c) => c.startsWith(`${name}=`)) ?? "");
    },
    host_req_get_all_cookie: () => mem().writeStringArray(cookies(req().header("cookie"))),
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
    host_resp_get_header: (addr: number) => out(ctx().response?.header(str(addr)) ?? ""),
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
    host_cluster_get_binary: (addr: number) => {
      const value = data.get(str(addr));
      return mem().writeData(value === undefined ? new Uint8Array() : decodeBase64(value));
    },
    host_cluster_put_binary: (key: number, value: number) =>
      void data.set(str(key), encodeBase64(mem().readData(value))),
    host_cluster_get_string: (addr: number) => out(data.get(str(addr)) ?? ""),
    host_cluster_put_string: (key: number, value: number) => void data.set(str(key), str(value)),
    host_cluster_get_integer: (addr: number) => BigInt(Math.trunc(numberOf(data.get(str(addr))))),
    host_cluster_put_integer: (key: number, value: bigint) =>
      void data.set(str(key), String(value)),
    host_cluster_add_integer: (key: number, addend: bigint) => {
      const name = str(key);
      const sum = BigInt(Math.trunc(numberOf(data.get(name)))) + addend;
      data.set(name, String(sum));
      return sum;
    },
    host_cluster_get_float: (addr: number) => numberOf(data.get(str(addr))),
    host_cluster_put_float: (key: number, value: number) => void data.set(str(key), String(value)),
    host_cluster_add_float: (key: number, addend: number) => {
      const name = str(key);
      const sum = numberOf(data.get(name)) + addend;
      data.set(name, String(sum));
      return sum;
    },
    host_cluster_count_key: (addr: number) => {
      const prefix = str(addr);
      let count = 0;
      for (const key of data.keys()) if (key.startsWith(prefix)) count++;
      return count;
    },
    host_add_tag: (addr: number) => ctx().addTag(str(addr)),
    host_log: (level: number, addr: number) => {
      const message = str(addr);
      if (level <= 0) log.debug(message);
      else if (level === 1) log.info(message);
      else if (level === 2) log.warn(message);
      else log.error(message);
    },
    host_get_unix_time_in_ms: () => BigInt(Date.now()),
    host_rand: () => Math.random(),
  };
}

/** Which body getters a module imports: those bodies are read before each call. */
function bodyImports(module: WebAssembly.Module): { request: boolean; response: boolean } {
  const names = new Set(WebAssembly.Module.imports(module).map((i) => i.name));
  return { request: names.has("host_req_get_body"), response: names.has("host_resp_get_body") };
}

class WasmHost implements FilterInstance {
  readonly #log: Logger;
  readonly #ready: Promise<void>;
  #vm: WasmVM | undefined;
  #error = "";
  #reads = { request: false, response: false };
  #requests = 0;
  #errors = 0;

  constructor(spec: WasmHostSpec, env: FilterEnv) {
    this.#log = env.log;
    const data = new Map<string, string>();
    this.#ready = loadModule(spec.code).then((module) => {
      this.#reads = bodyImports(module);
      this.#vm = new WasmVM(module, spec, data, env.log);
    }).catch((e) => {
      this.#error = (e as Error).message;
      env.log.error(`cannot load the WebAssembly module: ${this.#error}`);
    });
  }

  handle(ctx: Context): string | Promise<string> {
    if (this.#vm && !this.#reads.request && !this.#reads.response) return this.#call(ctx);
    return this.#prepared(ctx);
  }

  async #prepared(ctx: Context): Promise<string> {
    await this.#ready;
    if (!this.#vm) {
      ctx.response ??= new HttpResponse(503);
      return RESULT_OUT_OF_VM;
    }
    if (this.#reads.request) await ctx.request.bytes();
    if (this.#reads.response && ctx.response) await ctx.response.bytes();
    return this.#call(ctx);
  }

  #call(ctx: Context): string {
    this.#requests++;
    let result: number;
    try {
      result = this.#vm!.run(ctx);
    } catch (e) {
      this.#errors++;
      this.#log.warn(`wasm_run failed: ${(e as Error).message}`);
      ctx.response ??= new HttpResponse(500);
      return RESULT_WASM_ERROR;
    }
    if (result === 0) return "";
    if (result >= 1 && result <= 9) return `wasmResult${result}`;
    this.#errors++;
    ctx.response ??= new HttpResponse(500);
    return RESULT_WASM_ERROR;
  }

  status(): unknown {
    return {
      health: this.#error,
      numOfRequest: this.#requests,
      numOfWasmError: this.#errors,
    };
  }
}

/** The WasmHost filter kind. */
export const wasmHostKind: FilterKind<WasmHostSpec> = {
  kind: "WasmHost",
  description: "WasmHost runs a WebAssembly module written against Easegress's SDKs.",
  results: RESULTS,
  validate,
  create(spec: WasmHostSpec, env: FilterEnv): FilterInstance {
    return new WasmHost(spec, env);
  },
};
