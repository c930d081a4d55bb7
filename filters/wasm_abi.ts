/**
 * Easegress's WebAssembly ABI: how the host and a module exchange values
 * through the module's linear memory. The host asks the module for memory
 * with its exported `wasm_alloc(size)`; a string is a little-endian i32
 * length (counting a trailing NUL), the UTF-8 bytes and the NUL; bytes are
 * an i32 length and the bytes; a string array is an i32 count and that many
 * strings; a header set is one string of Go's `Header.Write` lines.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A module's memory and allocator, as the ABI reads and writes them. */
export class WasmMemory {
  readonly #memory: WebAssembly.Memory;
  readonly #alloc: (size: number) => number;

  constructor(memory: WebAssembly.Memory, alloc: (size: number) => number) {
    this.#memory = memory;
    this.#alloc = alloc;
  }

  // Views are made per access: memory.grow detaches the old buffer.
  #view(): DataView {
    return new DataView(this.#memory.buffer);
  }

  #bytesAt(addr: number, length: number): Uint8Array {
    const buffer = this.#memory.buffer;
    if (addr < 0 || length < 0 || addr + length > buffer.byteLength) {
      throw new RangeError(`the module passed memory outside its ${buffer.byteLength} bytes`);
    }
    return new Uint8Array(buffer, addr, length);
  }

  #lengthAt(addr: number): number {
    const bytes = this.#bytesAt(addr, 4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
  }

  /** The string the module wrote at `addr`. */
  readString(addr: number): string {
    const size = this.#lengthAt(addr);
    return decoder.decode(this.#bytesAt(addr + 4, Math.max(size - 1, 0)));
  }

  /** The bytes the module wrote at `addr`. */
  readData(addr: number): Uint8Array {
    const size = this.#lengthAt(addr);
    return this.#bytesAt(addr + 4, size).slice();
  }

  /** Writes `text` into memory the module allocated; returns its address. */
  writeString(text: string): number {
    const bytes = encoder.encode(text);
    const addr = this.#alloc(bytes.length + 5);
    this.#view().setInt32(addr, bytes.length + 1, true);
    const out = this.#bytesAt(addr + 4, bytes.length + 1);
    out.set(bytes);
    out[bytes.length] = 0;
    return addr;
  }

  /** Writes `data` into memory the module allocated; returns its address. */
  writeData(data: Uint8Array): number {
    const addr = this.#alloc(data.length + 4);
    this.#view().setInt32(addr, data.length, true);
    this.#bytesAt(addr + 4, data.length).set(data);
    return addr;
  }

  /** Writes `texts` as a string array; returns its address. */
  writeStringArray(texts: readonly string[]): number {
    const encoded = texts.map((t) => encoder.encode(t));
    const size = encoded.reduce((n, b) => n + b.length + 5, 4);
    const addr = this.#alloc(size);
    const view = this.#view();
    view.setInt32(addr, encoded.length, true);
    let at = addr + 4;
    for (const bytes of encoded) {
      view.setInt32(at, bytes.length + 1, true);
      const out = this.#bytesAt(at + 4, bytes.length + 1);
      out.set(bytes);
      out[bytes.length] = 0;
      at += bytes.length + 5;
    }
    return addr;
  }
}

/** Headers as Go's `Header.Write` lines: canonical names, sorted, one line per value. */
export function headerLines(header: Record<string, string[]>): string {
  let out = "";
  for (const name of Object.keys(header).sort()) {
    for (const value of header[name]) out += `${name}: ${value}\r\n`;
  }
  return out;
}

/** The fields of `Header.Write` lines ("Name: value" per line; others skipped). */
export function parseHeaderLines(text: string): [string, string][] {
  const fields: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return fields;
}
