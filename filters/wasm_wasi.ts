/**
 * The WASI (preview 1) imports a WasmHost module may have besides
 * Easegress's: Easegress links WASI into every VM, and modules built with its
 * Go SDK (TinyGo, `-target wasi`) import it, so without them such a module
 * cannot be instantiated at all. What is given is an empty system: no
 * arguments, environment or files; clocks and random bytes; standard output
 * and error go to the log; `proc_exit` ends the call with a trap. Any other
 * WASI function answers ENOSYS.
 *
 * @module
 */

import type { WasmLog } from "./wasm_vm.ts";

/** The import module names WASI preview 1 has gone by. */
const WASI_MODULES = ["wasi_snapshot_preview1", "wasi_unstable"];

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;
const ERRNO_NOSYS = 52;
/** The most `crypto.getRandomValues` fills at once. */
const RANDOM_CHUNK = 65536;

const decoder = new TextDecoder();

type WasiFunction = (...args: never[]) => number;

/**
 * The WASI import objects `module` asks for, by module name (none when it
 * imports no WASI); `memory` gives the instance's memory once it exists.
 */
export function wasiImports(
  module: WebAssembly.Module,
  memory: () => WebAssembly.Memory,
  log: WasmLog,
): Record<string, Record<string, WasiFunction>> {
  const imports: Record<string, Record<string, WasiFunction>> = {};
  for (const { module: name, name: field, kind } of WebAssembly.Module.imports(module)) {
    if (kind !== "function" || !WASI_MODULES.includes(name)) continue;
    const functions = imports[name] ??= {};
    functions[field] = wasiFunction(field, memory, log) ?? (() => ERRNO_NOSYS);
  }
  return imports;
}

function wasiFunction(
  name: string,
  memory: () => WebAssembly.Memory,
  log: WasmLog,
): WasiFunction | undefined {
  const view = () => new DataView(memory().buffer);
  const writeZeros = (a: number, b: number) => {
    const v = view();
    v.setUint32(a, 0, true);
    v.setUint32(b, 0, true);
    return ERRNO_SUCCESS;
  };
  switch (name) {
    case "args_sizes_get":
    case "environ_sizes_get":
      return writeZeros;
    case "args_get":
    case "environ_get":
    case "sched_yield":
      return () => ERRNO_SUCCESS;
    case "clock_res_get":
      return (_id: number, at: number) => {
        view().setBigUint64(at, 1000n, true);
        return ERRNO_SUCCESS;
      };
    case "clock_time_get":
      return (id: number, _precision: bigint, at: number) => {
        // 0 is the realtime clock; the others (monotonic, CPU time) count from the process start.
        const ns = id === 0
          ? BigInt(Date.now()) * 1_000_000n
          : BigInt(Math.round(performance.now() * 1e6));
        view().setBigUint64(at, ns, true);
        return ERRNO_SUCCESS;
      };
    case "random_get":
      return (at: number, length: number) => {
        const bytes = new Uint8Array(memory().buffer, at, length);
        for (let i = 0; i < length; i += RANDOM_CHUNK) {
          crypto.getRandomValues(bytes.subarray(i, i + RANDOM_CHUNK));
        }
        return ERRNO_SUCCESS;
      };
    case "fd_write":
      return (fd: number, iovs: number, count: number, written: number) => {
        if (fd !== 1 && fd !== 2) return ERRNO_BADF;
        const v = view();
        let text = "";
        let total = 0;
        for (let i = 0; i < count; i++) {
          const at = v.getUint32(iovs + i * 8, true);
          const length = v.getUint32(iovs + i * 8 + 4, true);
          if (at + length > v.byteLength) return ERRNO_INVAL;
          text += decoder.decode(new Uint8Array(v.buffer, at, length));
          total += length;
        }
        text = text.replace(/\n$/, "");
        if (text) log(fd === 1 ? 1 : 2, text);
        v.setUint32(written, total, true);
        return ERRNO_SUCCESS;
      };
    case "proc_exit":
      return (code: number) => {
        throw new Error(`the module exited (proc_exit ${code})`);
      };
  }
  return undefined;
}
