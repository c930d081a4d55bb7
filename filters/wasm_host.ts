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
 * Each instance (VM) runs in a worker isolate of its own, given a snapshot
 * of the request and response and sending back what the module changed:
 * the runtime cannot interrupt a WebAssembly call on its own thread, but a
 * call that outlives `timeout` ends with its worker (`wasmError`, 500) and
 * a new one takes its place. Up to `maxConcurrency` instances serve at
 * once; a request that finds them all busy gets `outOfVM` (503). A body is
 * sent only to modules that import its getter. Unlike Easegress, the
 * `host_resp_*` setters make a 200 response when there is none yet (there,
 * they failed before a Proxy or Mock). The `host_cluster_*` data is shared
 * by every instance of the filter, in every worker and on every node,
 * through the store (see `WasmHub`); a code reload (`POST /wasm/code`) loads
 * the module again and, when it changed, lets new instances serve.
 *
 * @module
 */

import { type Context, HttpResponse } from "./context.ts";
import type { FilterEnv, FilterInstance, FilterKind, Logger } from "./filter.ts";
import { parseDuration, SpecReader } from "./spec.ts";
import { applyOutcome, exchangeOf, type ExchangeOut } from "./wasm_exchange.ts";
import type { WasmWorkerRequest } from "./wasm_worker.ts";
import type { WasmDataOp } from "./wasm_cluster_data.ts";
import { type WasmDataScope, WasmHub } from "./wasm_shared_data.ts";

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
    const bytes = Uint8Array.fromBase64(code.replace(/\s+/g, ""));
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

/** The module's bytes, checked to compile; throws naming what failed. */
async function loadModule(code: string): Promise<Uint8Array> {
  let bytes = inlineModule(code);
  if (!bytes) {
    if (/^https?:\/\//.test(code)) {
      const response = await fetch(code);
      if (!response.ok) throw new Error(`${code} answered ${response.status}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    } else bytes = await Deno.readFile(code);
  }
  if (!isWasm(bytes)) throw new Error(`${code} is not WebAssembly`);
  await WebAssembly.compile(bytes as BufferSource);
  return bytes;
}

/** Which body getters a module imports: those bodies are read and sent before each call. */
function bodyImports(bytes: Uint8Array): { request: boolean; response: boolean } {
  const module = new WebAssembly.Module(bytes as BufferSource);
  const names = new Set(WebAssembly.Module.imports(module).map((i) => i.name));
  return { request: names.has("host_req_get_body"), response: names.has("host_resp_get_body") };
}

type WorkerReply =
  | { type: "ready"; logs: [number, string][]; dataOps: WasmDataOp[] }
  | { type: "failed"; message: string }
  | { type: "done"; outcome: ExchangeOut; dataOps: WasmDataOp[] }
  | { type: "error"; message: string; logs: [number, string][]; dataOps?: WasmDataOp[] };

/** One instance of the module in a worker isolate. */
class WasmWorker {
  readonly #worker: Worker;
  #reply: ((reply: WorkerReply) => void) | undefined;
  /** Resolves with what `wasm_init` logged and stored, once the instance is up. */
  readonly ready: Promise<{ logs: [number, string][]; dataOps: WasmDataOp[] }>;
  /** The version of the shared data this instance has seen (-1: none yet). */
  dataVersion = -1;
  /** Which load of the code this instance runs (see `WasmHost.#reload`). */
  readonly generation: number;

  constructor(bytes: Uint8Array, parameters: Record<string, string>, generation: number) {
    this.generation = generation;
    this.#worker = new Worker(new URL("./wasm_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#reply?.(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#reply?.({ type: "error", message: event.message, logs: [] });
    };
    this.ready = this.#call({ type: "init", bytes, parameters }).then((reply) => {
      if (reply.type === "failed") throw new Error(reply.message);
      return reply.type === "ready" ? reply : { logs: [], dataOps: [] };
    });
  }

  #call(request: WasmWorkerRequest): Promise<WorkerReply> {
    const { promise, resolve } = Promise.withResolvers<WorkerReply>();
    this.#reply = (reply) => {
      this.#reply = undefined;
      resolve(reply);
    };
    this.#worker.postMessage(request);
    return promise;
  }

  /** Runs the module on `exchange`; undefined when `timeoutMs` passed first (the worker is then ended). */
  async run(exchange: WasmWorkerRequest & { type: "run" }, timeoutMs: number) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) =>
      timer = setTimeout(() => resolve(undefined), timeoutMs)
    );
    const reply = await Promise.race([this.#call(exchange), late]);
    clearTimeout(timer);
    if (reply === undefined) this.terminate();
    return reply;
  }

  terminate(): void {
    this.#reply = undefined;
    this.#worker.terminate();
  }
}

class WasmHost implements FilterInstance {
  readonly #spec: WasmHostSpec;
  readonly #env: FilterEnv;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #hub: WasmHub;
  readonly #data: WasmDataScope;
  readonly #stopReloads: () => void;
  #loaded: Promise<Uint8Array | undefined>;
  #reads = { request: false, response: false };
  #idle: WasmWorker[] = [];
  #instances = 0;
  /** Rises with each reload that changed the code; older instances end when they return. */
  #generation = 0;
  #error = "";
  #requests = 0;
  #errors = 0;
  #closed = false;

  constructor(spec: WasmHostSpec, env: FilterEnv) {
    this.#spec = spec;
    this.#env = env;
    this.#log = env.log;
    this.#timeoutMs = parseDuration(spec.timeout) ?? 100;
    this.#hub = env.wasm ?? new WasmHub();
    this.#data = this.#hub.scope(env.pipeline, env.name);
    this.#stopReloads = this.#hub.onReload(() => this.#reload());
    this.#loaded = this.#load();
  }

  /** Loads the module and starts its first instance; undefined (error kept) when it cannot. */
  #load(): Promise<Uint8Array | undefined> {
    return loadModule(this.#spec.code).then(async (bytes) => {
      this.#reads = bodyImports(bytes);
      this.#error = "";
      // One instance at once, so the first request does not wait for it.
      const first = await this.#spawn(bytes);
      if (first) this.#idle.push(first);
      return bytes;
    }, (e) => {
      this.#error = (e as Error).message;
      this.#log.error(`cannot load the WebAssembly module: ${this.#error}`);
      return undefined;
    });
  }

  /** Loads the code again; when it changed, new instances take over and old ones end. */
  async #reload(): Promise<void> {
    const current = await this.#loaded;
    let bytes: Uint8Array;
    try {
      bytes = await loadModule(this.#spec.code);
    } catch (e) {
      this.#log.warn(`code reload: ${(e as Error).message}; the loaded code keeps serving`);
      return;
    }
    if (this.#closed || (current && sameBytes(current, bytes))) return;
    this.#generation++;
    this.#retire(this.#idle.splice(0));
    this.#loaded = this.#load();
    await this.#loaded;
    this.#log.info("code reloaded: new instances serve");
  }

  /** Ends instances that are no longer wanted. */
  #retire(workers: WasmWorker[]): void {
    for (const worker of workers) {
      this.#instances--;
      worker.terminate();
    }
  }

  /** A new instance, counted; undefined (and the error kept) when it cannot start. */
  async #spawn(bytes: Uint8Array): Promise<WasmWorker | undefined> {
    this.#instances++;
    const worker = new WasmWorker(bytes, this.#spec.parameters, this.#generation);
    try {
      const { logs, dataOps } = await worker.ready;
      for (const [level, message] of logs) this.#logAt(level, message);
      this.#store(dataOps);
      return worker;
    } catch (e) {
      this.#instances--;
      worker.terminate();
      this.#error = (e as Error).message;
      this.#log.error(`cannot start the WebAssembly module: ${this.#error}`);
      return undefined;
    }
  }

  #store(ops: WasmDataOp[] | undefined): void {
    if (ops?.length) this.#hub.record(this.#env.pipeline, this.#env.name, ops);
  }

  async handle(ctx: Context): Promise<string> {
    const bytes = await this.#loaded;
    if (!bytes || this.#closed) return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
    let worker = this.#idle.pop();
    if (!worker) {
      if (this.#instances >= this.#spec.maxConcurrency) {
        return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
      }
      worker = await this.#spawn(bytes);
      if (!worker) return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
    }
    this.#requests++;
    if (this.#reads.request) await ctx.request.bytes();
    if (this.#reads.response && ctx.response) await ctx.response.bytes();
    const data = this.#data.since(worker.dataVersion);
    worker.dataVersion = this.#data.version;
    const reply = await worker.run(
      { type: "run", exchange: exchangeOf(ctx, this.#reads), data },
      this.#timeoutMs,
    );
    if (reply === undefined) {
      this.#instances--;
      this.#errors++;
      this.#log.warn(`wasm_run took longer than ${this.#spec.timeout}: its instance was stopped`);
      return this.#fail(ctx, 500, RESULT_WASM_ERROR);
    }
    if (this.#closed || worker.generation !== this.#generation) this.#retire([worker]);
    else this.#idle.push(worker);
    if (reply.type === "done" || reply.type === "error") this.#store(reply.dataOps);
    if (reply.type !== "done") {
      this.#errors++;
      // What the module logged before it trapped helps find why.
      if (reply.type === "error") { for (const [level, m] of reply.logs) this.#logAt(level, m); }
      this.#log.warn(`wasm_run failed: ${"message" in reply ? reply.message : reply.type}`);
      return this.#fail(ctx, 500, RESULT_WASM_ERROR);
    }
    const outcome = reply.outcome;
    for (const [level, message] of outcome.logs) this.#logAt(level, message);
    applyOutcome(ctx, outcome);
    const result = outcome.result;
    if (result === 0) return "";
    if (result >= 1 && result <= 9) return `wasmResult${result}`;
    this.#errors++;
    return this.#fail(ctx, 500, RESULT_WASM_ERROR);
  }

  #fail(ctx: Context, status: number, result: string): string {
    ctx.response ??= new HttpResponse(status);
    return result;
  }

  #logAt(level: number, message: string): void {
    if (level <= 0) this.#log.debug(message);
    else if (level === 1) this.#log.info(message);
    else if (level === 2) this.#log.warn(message);
    else this.#log.error(message);
  }

  status(): unknown {
    return { health: this.#error, numOfRequest: this.#requests, numOfWasmError: this.#errors };
  }

  /** Ends the idle instances now, busy ones when their call returns. */
  close(): void {
    this.#closed = true;
    this.#stopReloads();
    this.#retire(this.#idle.splice(0));
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
