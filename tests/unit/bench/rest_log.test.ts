import assert from "node:assert/strict";
import type { Contender } from "../../../bench/lib/contenders.ts";
import { RestLog } from "../../../bench/lib/rest_log.ts";

function contender(name: string, process = {}): Contender {
  return { name, port: 0, process, pids: () => [] } as unknown as Contender;
}

Deno.test("RestLog notes the node rounds that began after its heap trim, and only those", () => {
  let now = 0;
  const log = new RestLog(() => now);
  const node = contender("node");
  const nginx = contender("nginx");
  // Two views of one node process (as the pipeline-cost scenario has) share its rests.
  const shared = {};
  const plain = contender("node proxy", shared);
  const full = contender("node validator+adaptor+proxy", shared);
  for (const c of [node, nginx, plain, full]) log.busy(c);
  now = 40_000;
  for (const c of [node, nginx, plain]) {
    log.starting(c);
    log.busy(c);
  }
  now = 45_000;
  log.starting(full); // 5 s after plain's round, on the same process
  log.busy(full);
  now = 55_000;
  log.starting(node); // 15 s: no trim
  const notes = log.trimNotes([node, nginx, plain, full]);
  assert.equal(notes.length, 2, notes.join("\n"));
  assert.match(notes[0], /^node: 1 of 2 rounds began after 40 s without load/);
  assert.match(notes[1], /^node proxy: 1 of 1 rounds/);
});
