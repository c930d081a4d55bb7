import assert from "node:assert/strict";
import {
  type CpuProfile,
  type HeapProfile,
  mergeCpuProfiles,
  mergeHeapProfiles,
} from "../../../server/profiling/profile_formats.ts";

const frame = (functionName: string) => ({
  functionName,
  scriptId: "1",
  url: "file:///x.ts",
  lineNumber: 1,
  columnNumber: 1,
});

/** A profile of root -> f, sampled at the given absolute times (all on f but the first). */
function cpuProfile(name: string, startTime: number, times: number[]): CpuProfile {
  let previous = startTime;
  return {
    nodes: [
      { id: 1, callFrame: { ...frame("(root)"), url: "" }, hitCount: 1, children: [2] },
      { id: 2, callFrame: frame(name), hitCount: times.length - 1, children: [] },
    ],
    startTime,
    endTime: times[times.length - 1] + 1,
    samples: times.map((_, i) => (i === 0 ? 1 : 2)),
    timeDeltas: times.map((t) => {
      const delta = t - previous;
      previous = t;
      return delta;
    }),
  };
}

Deno.test("mergeCpuProfiles: one profile is kept as it is", () => {
  const only = cpuProfile("f", 100, [101, 102]);
  assert.equal(mergeCpuProfiles([{ label: "node", profile: only }]), only);
});

Deno.test("mergeCpuProfiles: isolates hang under their names, samples stay in time order", () => {
  const merged = mergeCpuProfiles([
    { label: "control plane", profile: cpuProfile("main", 100, [110, 130, 150]) },
    { label: "worker 0", profile: cpuProfile("work", 90, [95, 120, 140, 160]) },
  ]);
  const byId = new Map(merged.nodes.map((node) => [node.id, node]));
  assert.equal(new Set(byId.keys()).size, merged.nodes.length, "ids are unique");
  const root = merged.nodes[0];
  const isolates = root.children!.map((id) => byId.get(id)!);
  assert.deepEqual(isolates.map((n) => n.callFrame.functionName), [
    "(control plane)",
    "(worker 0)",
  ]);
  assert.deepEqual(
    isolates.map((n) => byId.get(n.children![0])!.callFrame.functionName),
    ["main", "work"],
  );
  assert.equal(merged.startTime, 90);
  assert.equal(merged.endTime, 161);
  // Absolute times rebuilt from the deltas: every sample, in order, each at its own time.
  const times: number[] = [];
  let t = merged.startTime;
  for (const delta of merged.timeDeltas!) times.push(t += delta);
  assert.deepEqual(times, [95, 110, 120, 130, 140, 150, 160]);
  const names = merged.samples!.map((id) => byId.get(id)!.callFrame.functionName);
  assert.deepEqual(names, [
    "(worker 0)",
    "(control plane)",
    "work",
    "main",
    "work",
    "main",
    "work",
  ]);
});

function heapProfile(name: string, size: number): HeapProfile {
  return {
    head: {
      callFrame: frame("(root)"),
      selfSize: 0,
      id: 1,
      children: [{ callFrame: frame(name), selfSize: size, id: 7, children: [] }],
    },
    samples: [{ size, nodeId: 7, ordinal: 1 }],
  };
}

Deno.test("mergeHeapProfiles: isolates hang under their names, samples follow their nodes", () => {
  const merged = mergeHeapProfiles([
    { label: "control plane", profile: heapProfile("a", 100) },
    { label: "worker 0", profile: heapProfile("b", 200) },
  ]);
  const [main, worker] = merged.head.children;
  assert.equal(main.callFrame.functionName, "(control plane)");
  assert.equal(worker.callFrame.functionName, "(worker 0)");
  assert.equal(main.children[0].callFrame.functionName, "a");
  assert.equal(worker.children[0].selfSize, 200);
  const ids = [merged.head.id, main.id, worker.id, main.children[0].id, worker.children[0].id];
  assert.equal(new Set(ids).size, 5, "ids are unique");
  assert.deepEqual(merged.samples!.map((s) => s.nodeId), [
    main.children[0].id,
    worker.children[0].id,
  ]);
});
