/**
 * The profile formats of V8's inspector (`.cpuprofile`, `.heapprofile`, as
 * Chrome DevTools and other tools open them) and the merge of several
 * isolates' profiles into one file: each isolate's tree hangs under a node
 * named after it, so one file shows the whole node.
 *
 * @module
 */

/** Where a profiled function is. */
export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** A node of a CPU profile's call tree. */
export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  [more: string]: unknown;
}

/** A CPU profile: the call tree and the sampled node at each tick. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** Microseconds, on the process's monotonic clock. */
  startTime: number;
  endTime: number;
  samples?: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas?: number[];
}

/** A node of a sampled heap profile's allocation tree. */
export interface HeapProfileNode {
  callFrame: CallFrame;
  /** Bytes of sampled allocations made here and still alive. */
  selfSize: number;
  id: number;
  children: HeapProfileNode[];
}

/** A sampled heap profile. */
export interface HeapProfile {
  head: HeapProfileNode;
  samples?: { size: number; nodeId: number; ordinal: number }[];
}

/** One isolate's profile and the name its tree is shown under. */
export interface LabeledProfile<P> {
  label: string;
  profile: P;
}

function frameNamed(name: string): CallFrame {
  return { functionName: name, scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 };
}

/** One CPU profile of several isolates, samples in time order; a single profile as it is. */
export function mergeCpuProfiles(parts: readonly LabeledProfile<CpuProfile>[]): CpuProfile {
  if (parts.length === 1) return parts[0].profile;
  const root: CpuProfileNode = {
    id: 1,
    callFrame: frameNamed("(root)"),
    hitCount: 0,
    children: [],
  };
  const nodes = [root];
  const ticks: [time: number, node: number][] = [];
  let nextId = 2;
  let startTime = Infinity;
  let endTime = -Infinity;
  for (const { label, profile } of parts) {
    const ids = new Map<number, number>();
    for (const node of profile.nodes) ids.set(node.id, nextId++);
    const childIds = new Set(profile.nodes.flatMap((node) => node.children ?? []));
    for (const node of profile.nodes) {
      const isRoot = !childIds.has(node.id);
      const copy: CpuProfileNode = {
        ...node,
        id: ids.get(node.id)!,
        callFrame: isRoot ? frameNamed(`(${label})`) : node.callFrame,
        children: (node.children ?? []).map((child) => ids.get(child)!),
      };
      if (isRoot) root.children!.push(copy.id);
      nodes.push(copy);
    }
    let time = profile.startTime;
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      time += deltas[i] ?? 0;
      ticks.push([time, ids.get(samples[i])!]);
    }
    startTime = Math.min(startTime, profile.startTime);
    endTime = Math.max(endTime, profile.endTime);
  }
  ticks.sort((a, b) => a[0] - b[0]);
  const samples = ticks.map((tick) => tick[1]);
  const timeDeltas = ticks.map((tick, i) => tick[0] - (i === 0 ? startTime : ticks[i - 1][0]));
  return { nodes, startTime, endTime, samples, timeDeltas };
}

/** One heap profile of several isolates; a single profile as it is. */
export function mergeHeapProfiles(parts: readonly LabeledProfile<HeapProfile>[]): HeapProfile {
  if (parts.length === 1) return parts[0].profile;
  let nextId = 1;
  const head: HeapProfileNode = {
    callFrame: frameNamed("(root)"),
    selfSize: 0,
    id: nextId++,
    children: [],
  };
  const samples: NonNullable<HeapProfile["samples"]> = [];
  for (const { label, profile } of parts) {
    const ids = new Map<number, number>();
    const renumber = (node: HeapProfileNode, frame: CallFrame): HeapProfileNode => {
      const id = nextId++;
      ids.set(node.id, id);
      return {
        callFrame: frame,
        selfSize: node.selfSize,
        id,
        children: node.children.map((child) => renumber(child, child.callFrame)),
      };
    };
    head.children.push(renumber(profile.head, frameNamed(`(${label})`)));
    for (const sample of profile.samples ?? []) {
      samples.push({ ...sample, nodeId: ids.get(sample.nodeId) ?? head.id });
    }
  }
  return { head, samples };
}
