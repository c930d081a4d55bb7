import assert from "node:assert/strict";
import { HealthBoard, LEADER_STALE_MS } from "../../../filters/proxy/health_board.ts";
import { HealthChecker } from "../../../filters/proxy/health_check.ts";
import { SharedRegions } from "../../../filters/shared_regions.ts";

/** Two planes' views of one node's regions, as worker isolates get them. */
function twoPlanes(): [SharedRegions, SharedRegions] {
  const first = SharedRegions.create(1 << 20, 2);
  return [first, new SharedRegions(first.buffer, 1)];
}

Deno.test("health board: one plane leads until it stops beating or leaves", () => {
  const [a, b] = twoPlanes();
  const first = new HealthBoard(a, "pool");
  const second = new HealthBoard(b, "pool");
  const t = Date.now();
  assert.equal(first.lead(t), true);
  assert.equal(second.lead(t), false);
  assert.equal(first.lead(t + 1000), true, "the leader goes on");
  assert.equal(second.lead(t + 1000 + LEADER_STALE_MS - 1000), false);
  // Silent too long: the next plane to look takes over.
  assert.equal(second.lead(t + 1000 + LEADER_STALE_MS + 1000), true);
  assert.equal(first.lead(t + 1000 + LEADER_STALE_MS + 1000), false);
  second.close();
  assert.equal(
    first.lead(t + 1000 + LEADER_STALE_MS + 1000),
    true,
    "a leader that left is replaced at once",
  );
  // Another pool has a board of its own.
  assert.equal(new HealthBoard(b, "other").lead(t), true);
});

Deno.test("health board: posted verdicts reach the other plane; unchanged ones keep the generation", () => {
  const [a, b] = twoPlanes();
  const leader = new HealthBoard(a, "pool");
  const follower = new HealthBoard(b, "pool");
  assert.deepEqual([...follower.unhealthyAmong(["http://x", "http://y"])], []);
  const before = follower.generation;
  leader.post([["http://x", true], ["http://y", false]]);
  const after = follower.generation;
  assert.notEqual(after, before);
  // A server not on the board (not checked yet) counts as healthy.
  assert.deepEqual([...follower.unhealthyAmong(["http://x", "http://y", "http://z"])], [
    "http://y",
  ]);
  leader.post([["http://x", true], ["http://y", false]]);
  assert.equal(follower.generation, after);
  leader.post([["http://x", true]]);
  assert.notEqual(follower.generation, after, "a server left the board");
  assert.deepEqual([...follower.unhealthyAmong(["http://y"])], []);
});

Deno.test("health checks: the node's copies of a pool probe once between them and agree", async () => {
  const [a, b] = twoPlanes();
  const probes = new Map<string, number>();
  const probe = (url: string) => {
    probes.set(url, (probes.get(url) ?? 0) + 1);
    return Promise.resolve(url !== "http://down");
  };
  const changes: string[][][] = [[], []];
  const spec = { fails: 1, passes: 1, method: "GET", interval: "200ms" };
  const checkers = [a, b].map((regions, i) => {
    const checker = new HealthChecker(
      spec,
      (unhealthy) => changes[i].push([...unhealthy]),
      probe,
      new HealthBoard(regions, "pool"),
    );
    checker.setServers(["http://up", "http://down"]);
    return checker;
  });
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const rounds = probes.get("http://up") ?? 0;
    // One plane probes each interval, not both: about 7 rounds in 1.5 s.
    assert.ok(rounds >= 4 && rounds <= 8, `${rounds} probes of one server in 1.5 s`);
    assert.deepEqual(changes, [[["http://down"]], [["http://down"]]]);
    assert.deepEqual(checkers.map((c) => [...c.unhealthy()]), [["http://down"], ["http://down"]]);
    // A server a plane adds takes the board's verdict at once.
    checkers[1].setServers(["http://down"]);
    assert.deepEqual([...checkers[1].unhealthy()], ["http://down"]);
  } finally {
    for (const c of checkers) c.close();
  }
});
