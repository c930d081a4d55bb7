/**
 * V8's CPU and sampled heap profiles in pprof's format (`profile.proto`,
 * gzipped), the format Easegress's profiles are written in, so
 * `go tool pprof` and the tools built on it read the node's profiles.
 *
 * @module
 */

import type { CallFrame, CpuProfile, HeapProfile, HeapProfileNode } from "./profile_formats.ts";
import { concatBytes } from "../../filters/concat_bytes.ts";
import { ProtobufWriter } from "./protobuf_writer.ts";

// Field numbers of profile.proto.
const PROFILE = {
  sampleType: 1,
  sample: 2,
  location: 4,
  function: 5,
  stringTable: 6,
  timeNanos: 9,
  durationNanos: 10,
  periodType: 11,
  period: 12,
} as const;
const VALUE_TYPE = { type: 1, unit: 2 } as const;
const SAMPLE = { locationId: 1, value: 2 } as const;
const LOCATION = { id: 1, line: 4 } as const;
const LINE = { functionId: 1, line: 2 } as const;
const FUNCTION = { id: 1, name: 2, systemName: 3, filename: 4, startLine: 5 } as const;

/** The bytes of a pprof file: gzipped, as Go writes its profiles. */
export async function gzipped(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * A CPU profile as pprof's (samples/count and cpu/nanoseconds per stack),
 * each sample standing for `intervalUs` of its isolate's time (a merged
 * profile's time deltas interleave isolates, so they cannot say it);
 * `endWallMs` is when it ended, on the wall clock.
 */
export function cpuProfileToPprof(
  profile: CpuProfile,
  intervalUs: number,
  endWallMs: number,
): Uint8Array<ArrayBuffer> {
  const builder = new PprofBuilder();
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const counts = new Map<number, number>();
  if (profile.samples?.length) {
    for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  } else {
    for (const node of profile.nodes) {
      if (node.hitCount) counts.set(node.id, node.hitCount);
    }
  }
  const periodNanos = intervalUs * 1000;
  const durationNanos = Math.max(0, profile.endTime - profile.startTime) * 1000;
  for (const [id, count] of counts) {
    const stack: number[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      // The tree's own root is no frame of the program, unless sampled itself.
      if (parents.has(at) || at === id) stack.push(builder.location(frames.get(at)!));
    }
    builder.sample(stack, [count, count * periodNanos]);
  }
  return builder.finish({
    sampleTypes: [["samples", "count"], ["cpu", "nanoseconds"]],
    periodType: ["cpu", "nanoseconds"],
    period: periodNanos,
    timeNanos: Math.round(endWallMs * 1e6 - durationNanos),
    durationNanos,
  });
}

/**
 * A sampled heap profile as pprof's (inuse_objects/count and
 * inuse_space/bytes per allocating stack), sampled every `intervalBytes`.
 */
export function heapProfileToPprof(
  profile: HeapProfile,
  intervalBytes: number,
  wallMs: number,
): Uint8Array<ArrayBuffer> {
  const builder = new PprofBuilder();
  const objects = new Map<number, number>();
  for (const sample of profile.samples ?? []) {
    objects.set(sample.nodeId, (objects.get(sample.nodeId) ?? 0) + 1);
  }
  const walk = (node: HeapProfileNode, stack: number[]) => {
    const here = [builder.location(node.callFrame), ...stack];
    if (node.selfSize > 0) builder.sample(here, [objects.get(node.id) ?? 1, node.selfSize]);
    for (const child of node.children) walk(child, here);
  };
  // The tree's own root is no frame of the program.
  for (const child of profile.head.children) walk(child, []);
  return builder.finish({
    sampleTypes: [["inuse_objects", "count"], ["inuse_space", "bytes"]],
    periodType: ["space", "bytes"],
    period: intervalBytes,
    timeNanos: Math.round(wallMs * 1e6),
    durationNanos: 0,
  });
}

/** The profile-wide fields of a pprof file. */
interface ProfileHeader {
  sampleTypes: [type: string, unit: string][];
  periodType: [type: string, unit: string];
  period: number;
  timeNanos: number;
  durationNanos: number;
}

/** Collects samples with their functions and locations, each once, and writes the profile. */
class PprofBuilder {
  readonly #strings = new Map<string, number>([["", 0]]);
  readonly #functions = new Map<string, number>();
  readonly #locations = new Map<string, number>();
  readonly #out = new ProtobufWriter();
  readonly #tail = new ProtobufWriter();

  /** The location id of `frame`, added on first sight. */
  location(frame: CallFrame): number {
    const line = Math.max(0, frame.lineNumber + 1);
    const name = frame.functionName || "(anonymous)";
    const key = `${name}\n${frame.url}\n${line}`;
    let id = this.#locations.get(key);
    if (id !== undefined) return id;
    let functionId = this.#functions.get(key);
    if (functionId === undefined) {
      functionId = this.#functions.size + 1;
      this.#functions.set(key, functionId);
      const nameIndex = this.#string(name);
      this.#tail.message(
        PROFILE.function,
        new ProtobufWriter()
          .varint(FUNCTION.id, functionId)
          .varint(FUNCTION.name, nameIndex)
          .varint(FUNCTION.systemName, nameIndex)
          .varint(FUNCTION.filename, this.#string(frame.url))
          .varint(FUNCTION.startLine, line),
      );
    }
    id = this.#locations.size + 1;
    this.#locations.set(key, id);
    this.#tail.message(
      PROFILE.location,
      new ProtobufWriter()
        .varint(LOCATION.id, id)
        .message(
          LOCATION.line,
          new ProtobufWriter().varint(LINE.functionId, functionId).varint(LINE.line, line),
        ),
    );
    return id;
  }

  /** A sample: its stack, leaf first, and one value per sample type. */
  sample(stack: readonly number[], values: readonly number[]): void {
    this.#out.message(
      PROFILE.sample,
      new ProtobufWriter().packed(SAMPLE.locationId, stack).packed(SAMPLE.value, values),
    );
  }

  /** The whole profile, uncompressed. */
  finish(header: ProfileHeader): Uint8Array<ArrayBuffer> {
    const out = new ProtobufWriter();
    for (const [type, unit] of header.sampleTypes) {
      out.message(PROFILE.sampleType, this.#valueType(type, unit));
    }
    const periodType = this.#valueType(...header.periodType);
    const body = [out.bytes(), this.#out.bytes(), this.#tail.bytes()];
    const rest = new ProtobufWriter();
    for (const text of this.#strings.keys()) rest.string(PROFILE.stringTable, text);
    rest
      .varint(PROFILE.timeNanos, header.timeNanos)
      .varint(PROFILE.durationNanos, header.durationNanos)
      .message(PROFILE.periodType, periodType)
      .varint(PROFILE.period, header.period);
    body.push(rest.bytes());
    return concatBytes(body);
  }

  #valueType(type: string, unit: string): ProtobufWriter {
    return new ProtobufWriter()
      .varint(VALUE_TYPE.type, this.#string(type))
      .varint(VALUE_TYPE.unit, this.#string(unit));
  }

  #string(text: string): number {
    let index = this.#strings.get(text);
    if (index === undefined) {
      index = this.#strings.size;
      this.#strings.set(text, index);
    }
    return index;
  }
}
