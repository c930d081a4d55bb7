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
 * a new one takes its place; so does a `wasm_init` (or start function)
 * still running `timeout` after the module compiled in its worker. (Deno
 * 2.9's `Worker.terminate()` cannot stop a thread inside a loop: such a
 * worker is forgotten, its thread runs on until the process exits.) Up to
 * `maxConcurrency` instances serve or start at once; a request that finds
 * them all busy gets `outOfVM` (503). A body is
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

/**
 * How long after a failed load the code is tried again, as Easegress does
 * every 30 s: a code URL may come up after the gateway. Tests shorten it.
 */
export const codeRetry = { ms: 30_000 };

/** The module's bytes, checked to compile; throws naming what failed. */
async function loadModule(code: string): Promise<Uint8Array> {
  let bytes = inlineModule(code);
  if (!bytes) {
    if (/^https?:\/\//.test(code)) {
      const response = await fetch(code).catch((e) => {
        // The runtime's message is "fetch failed"; its cause says what failed.
        throw new Error(`cannot fetch ${code}: ${e?.cause?.message ?? e?.message ?? e}`);
      });
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
  | { type: "compiled" }
  | { type: "ready"; logs: [number, string][]; dataOps: WasmDataOp[] }
  | { type: "failed"; message: string }
  | { type: "done"; outcome: ExchangeOut; dataOps: WasmDataOp[] }
  | { type: "error"; message: string; logs: [number, string][]; dataOps?: WasmDataOp[] };

/**
 * How long a worker may take to start and compile the module, before any of
 * the module's code runs (its start function and `wasm_init` then have
 * `timeout`): far more than it takes (tens of milliseconds), only so that
 * nothing waits for ever.
 */
export const WORKER_START_LIMIT_MS = 10_000;

/** An instance did not come up in time and was ended. */
class StartTimeout extends Error {}

/** One instance of the module in a worker isolate. */
class WasmWorker {
  readonly #worker: Worker;
  #reply: ((reply: WorkerReply) => void) | undefined;
  #ended = false;
  /**
   * Resolves with what `wasm_init` logged and stored, once the instance is
   * up; rejects when it failed, was ended, or did not come up in time
   * ({@linkcode StartTimeout}; the worker is then ended).
   */
  readonly ready: Promise<{ logs: [number, string][]; dataOps: WasmDataOp[] }>;
  /** The version of the shared data this instance has seen (-1: none yet). */
  dataVersion = -1;
  /** Which load of the code this instance runs (see `WasmHost.#reload`). */
  readonly generation: number;

  constructor(
    bytes: Uint8Array,
    parameters: Record<string, string>,
    generation: number,
    timeout: { ms: number; text: string },
  ) {
    this.generation = generation;
    this.#worker = new Worker(new URL("./wasm_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#reply?.(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#reply?.({ type: "error", message: event.message, logs: [] });
    };
    this.ready = this.#init(bytes, parameters, timeout);
  }

  /** Starts the instance: the worker's start and compile within the start limit, its code within `timeout`. */
  async #init(
    bytes: Uint8Array,
    parameters: Record<string, string>,
    timeout: { ms: number; text: string },
  ) {
    const { promise, resolve } = Promise.withResolvers<WorkerReply | StartTimeout>();
    const late = (ms: number, what: string) =>
      setTimeout(() => resolve(new StartTimeout(what)), ms);
    let timer = late(
      WORKER_START_LIMIT_MS,
      `the instance did not start within ${WORKER_START_LIMIT_MS / 1000}s`,
    );
    this.#reply = (reply) => {
      if (reply.type !== "compiled") return resolve(reply);
      clearTimeout(timer);
      timer = late(timeout.ms, `wasm_init did not return within ${timeout.text}`);
    };
    this.#worker.postMessage({ type: "init", bytes, parameters } satisfies WasmWorkerRequest);
    const reply = await promise;
    clearTimeout(timer);
    this.#reply = undefined;
    if (reply instanceof StartTimeout) {
      this.terminate();
      throw reply;
    }
    if (reply.type === "ready") return reply;
    throw new Error("message" in reply ? reply.message : `unexpected ${reply.type}`);
  }

  #call(request: WasmWorkerRequest): Promise<WorkerReply> {
    const { promise, resolve } = Promise.withResolvers<WorkerReply>();
    if (this.#ended) {
      return Promise.resolve({ type: "error", message: "the instance was stopped", logs: [] });
    }
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

  /** Ends the worker (again: nothing); whoever waits for it gets an error. */
  terminate(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#worker.terminate();
    const reply = this.#reply;
    this.#reply = undefined;
    reply?.({ type: "error", message: "the instance was stopped", logs: [] });
  }
}

/** An instance being started: `started` says whether it came up (see `WasmHost.#start`). */
interface Starting {
  worker: WasmWorker;
  started: Promise<{ ok: true } | { ok: false; timedOut: boolean }>;
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
  /** Every instance not yet ended: starting, idle or busy. */
  readonly #workers = new Set<WasmWorker>();
  /** The instances running a call. */
  readonly #busy = new Set<WasmWorker>();
  #idle: WasmWorker[] = [];
  /** The instance started with the code, until it is up or a request takes it over. */
  #preload: Starting | undefined;
  /** Rises with each reload that changed the code; older instances end when they return. */
  #generation = 0;
  #error = "";
  #requests = 0;
  #errors = 0;
  #closed = false;
  /** The next try at code that could not be loaded, while none is loaded. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Set once an instance's start outlived `timeout` (`wasm_init` looping,
   * say): the runtime cannot stop a worker stuck in a loop, so its thread
   * may still run, and starting more for this code would add one such
   * thread per request. Until the code changes, requests that find no idle
   * instance fail at once.
   */
  #startHangs = false;

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

  /** How many worker isolates the filter has (starting, idle or busy): for tests. */
  get liveInstances(): number {
    return this.#workers.size;
  }

  /**
   * Loads the module and starts its first instance; undefined (error kept)
   * when it cannot load. Does not wait for the instance: the first request
   * takes it over while it starts.
   */
  #load(): Promise<Uint8Array | undefined> {
    return loadModule(this.#spec.code).then((bytes) => {
      this.#reads = bodyImports(bytes);
      this.#error = "";
      if (this.#closed) return bytes;
      // One instance at once, so the first request does not wait for all of its start.
      const preload = this.#start(bytes);
      this.#preload = preload;
      preload.started.then((started) => {
        if (this.#preload !== preload) return; // a request took it, or a reload ended it
        this.#preload = undefined;
        if (started.ok) this.#release(preload.worker);
      });
      return bytes;
    }, (e) => {
      this.#error = (e as Error).message;
      this.#log.error(`cannot load the WebAssembly module: ${this.#error}; trying again later`);
      this.#retryLater();
      return undefined;
    });
  }

  /** Tries the code again after `codeRetry`, unless closed or a reload comes first. */
  #retryLater(): void {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#reload();
    }, codeRetry.ms);
  }

  /** Loads the code again; when it changed, new instances take over and old ones end. */
  async #reload(): Promise<void> {
    const current = await this.#loaded;
    let bytes: Uint8Array;
    try {
      bytes = await loadModule(this.#spec.code);
    } catch (e) {
      if (current) {
        this.#log.warn(`code reload: ${(e as Error).message}; the loaded code keeps serving`);
      } else {
        this.#error = (e as Error).message;
        this.#retryLater();
      }
      return;
    }
    if (this.#closed || (current && sameBytes(current, bytes))) return;
    this.#generation++;
    this.#startHangs = false;
    this.#retire(this.#idle.splice(0));
    if (this.#preload) this.#retire([this.#preload.worker]);
    this.#preload = undefined;
    this.#loaded = this.#load();
    await this.#loaded;
    this.#log.info("code reloaded: new instances serve");
  }

  /** Ends instances that are no longer wanted (those already ended: nothing). */
  #retire(workers: Iterable<WasmWorker>): void {
    for (const worker of [...workers]) {
      this.#workers.delete(worker);
      worker.terminate();
    }
  }

  /** An instance done with a call (or started): idle again, or ended when no longer wanted. */
  #release(worker: WasmWorker): void {
    if (this.#closed || worker.generation !== this.#generation || !this.#workers.has(worker)) {
      this.#retire([worker]);
    } else this.#idle.push(worker);
  }

  /**
   * Starts a new instance, counted at once. `started` resolves when it is up
   * or failed: one that did not come up in time (`timedOut`; `wasm_init`
   * looping, say) or failed is ended and logged once, with why; one ended
   * meanwhile (the filter closed, the code reloaded) just fails.
   */
  #start(bytes: Uint8Array): Starting {
    const worker = new WasmWorker(bytes, this.#spec.parameters, this.#generation, {
      ms: this.#timeoutMs,
      text: this.#spec.timeout,
    });
    this.#workers.add(worker);
    const started = worker.ready.then(({ logs, dataOps }) => {
      if (!this.#workers.has(worker)) return { ok: false as const, timedOut: false };
      for (const [level, message] of logs) this.#logAt(level, message);
      this.#store(dataOps);
      this.#error = "";
      return { ok: true as const };
    }, (e) => {
      const wanted = this.#workers.has(worker);
      this.#retire([worker]);
      if (!wanted) return { ok: false as const, timedOut: false };
      const timedOut = e instanceof StartTimeout;
      if (timedOut) this.#startHangs = true;
      this.#error = (e as Error).message;
      this.#log.error(
        timedOut
          ? `${this.#error}: its instance was stopped`
          : `cannot start the WebAssembly module: ${this.#error}`,
      );
      return { ok: false as const, timedOut };
    });
    return { worker, started };
  }

  #store(ops: WasmDataOp[] | undefined): void {
    if (ops?.length) this.#hub.record(this.#env.pipeline, this.#env.name, ops);
  }

  async handle(ctx: Context): Promise<string> {
    const bytes = await this.#loaded;
    if (!bytes || this.#closed) return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
    let worker = this.#idle.pop();
    if (!worker) {
      let starting = this.#preload;
      if (starting) this.#preload = undefined;
      else if (this.#workers.size >= this.#spec.maxConcurrency) {
        return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
      } else if (this.#startHangs) {
        this.#requests++;
        this.#errors++;
        return this.#fail(ctx, 500, RESULT_WASM_ERROR);
      } else starting = this.#start(bytes);
      const started = await starting.started;
      if (!started.ok && started.timedOut) {
        // The module's code outlived `timeout` for this request, as a wasm_run past it does.
        this.#requests++;
        this.#errors++;
        return this.#fail(ctx, 500, RESULT_WASM_ERROR);
      }
      // It failed (logged), or the filter closed or reloaded meanwhile.
      if (!started.ok || !this.#workers.has(starting.worker)) {
        return this.#fail(ctx, 503, RESULT_OUT_OF_VM);
      }
      worker = starting.worker;
    }
    this.#requests++;
    this.#busy.add(worker);
    let reply: WorkerReply | undefined;
    try {
      if (this.#reads.request) await ctx.request.bytes();
      if (this.#reads.response && ctx.response) await ctx.response.bytes();
      const data = this.#data.since(worker.dataVersion);
      worker.dataVersion = this.#data.version;
      reply = await worker.run(
        { type: "run", exchange: exchangeOf(ctx, this.#reads), data },
        this.#timeoutMs,
      );
    } catch (e) {
      // Reading a body failed, say: the instance is still good.
      this.#busy.delete(worker);
      this.#release(worker);
      throw e;
    }
    this.#busy.delete(worker);
    if (reply === undefined) {
      this.#retire([worker]);
      this.#errors++;
      this.#log.warn(`wasm_run took longer than ${this.#spec.timeout}: its instance was stopped`);
      return this.#fail(ctx, 500, RESULT_WASM_ERROR);
    }
    this.#release(worker);
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

  /**
   * Ends every instance now, those still starting too (a request waiting
   * for one gets `outOfVM`), except those running a call: each of those
   * ends when its call returns or outlives `timeout`.
   */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#stopReloads();
    this.#preload = undefined;
    this.#idle = [];
    this.#retire([...this.#workers].filter((worker) => !this.#busy.has(worker)));
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
