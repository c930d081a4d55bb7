import assert from "node:assert/strict";
import { headerLines, parseHeaderLines, WasmMemory } from "../../../filters/wasm_abi.ts";

function memory(): { mem: WasmMemory; raw: WebAssembly.Memory } {
  const raw = new WebAssembly.Memory({ initial: 1 });
  let heap = 64;
  return {
    raw,
    mem: new WasmMemory(raw, (size) => {
      const at = heap;
      heap += size;
      return at;
    }),
  };
}

Deno.test("WasmMemory: strings carry a length counting their NUL, data a plain length", () => {
  const { mem, raw } = memory();
  const s = mem.writeString("héllo");
  const view = new DataView(raw.buffer);
  assert.equal(view.getInt32(s, true), 7); // 6 UTF-8 bytes + NUL
  assert.equal(new Uint8Array(raw.buffer)[s + 4 + 6], 0);
  assert.equal(mem.readString(s), "héllo");
  const d = mem.writeData(Uint8Array.of(1, 2, 3));
  assert.equal(view.getInt32(d, true), 3);
  assert.deepEqual([...mem.readData(d)], [1, 2, 3]);
  assert.equal(mem.readString(mem.writeString("")), "");
});

Deno.test("WasmMemory: a string array is a count and that many strings, as wasm_init reads it", () => {
  const { mem, raw } = memory();
  const at = mem.writeStringArray(["greeting", "hi", ""]);
  const view = new DataView(raw.buffer);
  assert.equal(view.getInt32(at, true), 3);
  // The second string starts after the count and the first string (4 + 8 + 1 bytes).
  assert.equal(mem.readString(at + 4 + 13), "hi");
  assert.equal(mem.readString(at + 4 + 13 + 7), "");
  assert.throws(() => mem.readData(70_000), /outside its 65536 bytes/);
});

Deno.test("headerLines writes Go's Header.Write lines; parseHeaderLines reads them back", () => {
  const text = headerLines({ "X-B": ["2"], "Content-Type": ["text/plain"], "X-A": ["1", "one"] });
  assert.equal(text, "Content-Type: text/plain\r\nX-A: 1\r\nX-A: one\r\nX-B: 2\r\n");
  assert.deepEqual(parseHeaderLines(text + "garbage\r\n"), [
    ["Content-Type", "text/plain"],
    ["X-A", "1"],
    ["X-A", "one"],
    ["X-B", "2"],
  ]);
});
