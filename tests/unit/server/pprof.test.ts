import assert from "node:assert/strict";
import { cpuProfileToPprof, gzipped, heapProfileToPprof } from "../../../server/profiling/pprof.ts";
import type { CpuProfile, HeapProfile } from "../../../server/profiling/profile_formats.ts";

type Fields = Map<number, (number | Uint8Array)[]>;

/** Decodes one protobuf message into its fields (varints as numbers, the rest as bytes). */
function decode(bytes: Uint8Array): Fields {
  const fields: Fields = new Map();
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1;; scale *= 128) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const value = (key & 7) === 0 ? varint() : (() => {
      assert.equal(key & 7, 2);
      const length = varint();
      at += length;
      return bytes.subarray(at - length, at);
    })();
    fields.set(key >> 3, [...(fields.get(key >> 3) ?? []), value]);
  }
  return fields;
}

function packed(value: number | Uint8Array | undefined): number[] {
  if (value === undefined) return [];
  const out: number[] = [];
  const bytes = value as Uint8Array;
  for (let at = 0; at < bytes.length;) {
    let n = 0;
    for (let scale = 1;; scale *= 128) {
      const byte = bytes[at++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
    }
    out.push(n);
  }
  return out;
}

/** A pprof profile read back: sample types, and each sample's stack (names, leaf first) and values. */
function readProfile(bytes: Uint8Array) {
  const profile = decode(bytes);
  const strings = (profile.get(6) ?? []).map((s) => new TextDecoder().decode(s as Uint8Array));
  assert.equal(strings[0], "");
  const functions = new Map<number, string>();
  for (const f of profile.get(5) ?? []) {
    const fields = decode(f as Uint8Array);
    functions.set(fields.get(1)![0] as number, strings[fields.get(2)![0] as number]);
  }
  const locations = new Map<number, string>();
  for (const l of profile.get(4) ?? []) {
    const fields = decode(l as Uint8Array);
    const line = decode(fields.get(4)![0] as Uint8Array);
    locations.set(
      fields.get(1)![0] as number,
      `${functions.get(line.get(1)![0] as number)}:${line.get(2)?.[0] ?? 0}`,
    );
  }
  const valueType = (v: number | Uint8Array) => {
    const fields = decode(v as Uint8Array);
    return `${strings[fields.get(1)![0] as number]}/${strings[fields.get(2)![0] as number]}`;
  };
  return {
    sampleTypes: (profile.get(1) ?? []).map(valueType),
    periodType: valueType(profile.get(11)![0]),
    period: profile.get(12)?.[0],
    timeNanos: profile.get(9)?.[0] as number,
    durationNanos: profile.get(10)?.[0] ?? 0,
    samples: (profile.get(2) ?? []).map((s) => {
      const fields = decode(s as Uint8Array);
      return {
        stack: packed(fields.get(1)?.[0]).map((id) => locations.get(id)),
        values: packed(fields.get(2)?.[0]),
      };
    }).sort((a, b) => a.stack.join().localeCompare(b.stack.join())),
  };
}

const frame = (functionName: string, lineNumber: number) => ({
  functionName,
  scriptId: "1",
  url: "file:///x.ts",
  lineNumber,
  columnNumber: 0,
});

Deno.test("cpuProfileToPprof: stacks leaf first, counts and sampled time per stack, wall-clock start", () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { ...frame("(root)", -1), url: "" }, children: [2, 4] },
      { id: 2, callFrame: frame("serve", 9), children: [3] },
      { id: 3, callFrame: frame("", 19), children: [] },
      { id: 4, callFrame: { ...frame("(idle)", -1), url: "" }, children: [] },
    ],
    startTime: 1_000_000,
    endTime: 1_004_000,
    samples: [3, 3, 2, 4],
    timeDeltas: [1000, 1000, 500, 1500],
  };
  const read = readProfile(cpuProfileToPprof(profile, 1000, 1_700_000_000_000));
  assert.deepEqual(read.sampleTypes, ["samples/count", "cpu/nanoseconds"]);
  assert.equal(read.periodType, "cpu/nanoseconds");
  assert.equal(read.period, 1_000_000);
  assert.equal(read.durationNanos, 4_000_000);
  assert.equal(read.timeNanos, 1_700_000_000_000 * 1e6 - 4_000_000);
  assert.deepEqual(read.samples, [
    { stack: ["(anonymous):20", "serve:10"], values: [2, 2_000_000] },
    { stack: ["(idle):0"], values: [1, 1_000_000] },
    { stack: ["serve:10"], values: [1, 1_000_000] },
  ]);
});

Deno.test("heapProfileToPprof: in-use objects and bytes per allocating stack", () => {
  const profile: HeapProfile = {
    head: {
      callFrame: { ...frame("(root)", -1), url: "" },
      selfSize: 0,
      id: 1,
      children: [{
        callFrame: frame("parse", 4),
        selfSize: 100,
        id: 2,
        children: [{ callFrame: frame("split", 7), selfSize: 64, id: 3, children: [] }],
      }],
    },
    samples: [{ size: 50, nodeId: 2, ordinal: 1 }, { size: 50, nodeId: 2, ordinal: 2 }, {
      size: 64,
      nodeId: 3,
      ordinal: 3,
    }],
  };
  const read = readProfile(heapProfileToPprof(profile, 32768, 1_700_000_000_000));
  assert.deepEqual(read.sampleTypes, ["inuse_objects/count", "inuse_space/bytes"]);
  assert.equal(read.periodType, "space/bytes");
  assert.equal(read.period, 32768);
  assert.deepEqual(read.samples, [
    { stack: ["parse:5"], values: [2, 100] },
    { stack: ["split:8", "parse:5"], values: [1, 64] },
  ]);
});

Deno.test("gzipped: a gzip stream that decompresses to the bytes", async () => {
  const bytes = new TextEncoder().encode("profile ".repeat(100));
  const packedBytes = await gzipped(bytes);
  assert.deepEqual([packedBytes[0], packedBytes[1]], [0x1f, 0x8b]);
  const back = new Blob([packedBytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  assert.deepEqual(new Uint8Array(await new Response(back).arrayBuffer()), bytes);
});
