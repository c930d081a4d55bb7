import assert from "node:assert/strict";
import {
  h2loadCommand,
  h2loadLogPercentiles,
  parseH2load,
  parseWrk,
  parseWrkTime,
  percentile,
  wrkCommand,
} from "../../../bench/lib/load.ts";

const WRK_OUTPUT = `Running 1s test @ http://127.0.0.1:23950/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.09ms    3.69ms  36.73ms   95.24%
    Req/Sec    43.88k    18.13k   67.62k    40.00%
  Latency Distribution
     50%  128.00us
     75%  210.00us
     90%    2.57ms
     99%   23.85ms
  43829 requests in 1.01s, 4.89MB read
Requests/sec:  43384.61
Transfer/sec:      4.84MB
`;

const H2LOAD_OUTPUT = `starting benchmark...
Application protocol: h2

finished in 1.01s, 5602.00 req/s, 147.90KB/s
requests: 5602 total, 5606 started, 5602 done, 5590 succeeded, 10 failed, 2 errored, 0 timeout
status codes: 5590 2xx, 0 3xx, 3 4xx, 1 5xx
traffic: 147.90KB (151448) total, 38.38KB (39298) headers (space savings 92.54%), 10.94KB (11204) data
`;

Deno.test("parseWrkTime reads every unit wrk prints", () => {
  assert.equal(parseWrkTime("128.00us"), 0.128);
  assert.equal(parseWrkTime("2.57ms"), 2.57);
  assert.equal(parseWrkTime("1.01s"), 1010);
  assert.equal(parseWrkTime("1.00m"), 60_000);
  assert.throws(() => parseWrkTime("fast"), /Cannot parse wrk time "fast"/);
});

Deno.test("parseWrk takes requests, rate and percentiles from wrk --latency", () => {
  assert.deepEqual(parseWrk(WRK_OUTPUT), {
    requests: 43829,
    seconds: 1.01,
    requestsPerSecond: 43384.61,
    p50Ms: 0.128,
    p99Ms: 23.85,
    errors: 0,
  });
});

Deno.test("parseWrk counts non-2xx answers and socket errors", () => {
  const output = WRK_OUTPUT.replace(
    "Requests/sec",
    "  Non-2xx or 3xx responses: 7\n  Socket errors: connect 1, read 2, write 0, timeout 3\nRequests/sec",
  );
  assert.equal(parseWrk(output).errors, 13);
});

Deno.test("parseWrk refuses output without a summary", () => {
  assert.throws(() => parseWrk("unable to connect"), /Cannot parse wrk output/);
});

Deno.test("wrkCommand asks for one thread, latency and the given headers", () => {
  assert.deepEqual(
    wrkCommand({ url: "http://127.0.0.1:1/", connections: 64, seconds: 5, headers: { A: "b" } }),
    ["wrk", "-t1", "-c64", "-d5s", "--latency", "-H", "A: b", "http://127.0.0.1:1/"],
  );
});

Deno.test("parseH2load counts failed requests and non-2xx answers as errors", () => {
  assert.deepEqual(parseH2load(H2LOAD_OUTPUT), {
    requests: 5590,
    seconds: 1.01,
    requestsPerSecond: 5602,
    errors: 16,
  });
  assert.throws(() => parseH2load("no summary"), /Cannot parse h2load output/);
});

Deno.test("h2loadLogPercentiles reads the third column in microseconds", () => {
  const rows = Array.from({ length: 100 }, (_, i) => `1795312844115263\t200\t${(i + 1) * 1000}`);
  assert.deepEqual(h2loadLogPercentiles(rows.join("\n") + "\n"), { p50Ms: 50, p99Ms: 99 });
  assert.deepEqual(h2loadLogPercentiles(""), {});
});

Deno.test("percentile is nearest-rank", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 99), 4);
  assert.equal(percentile([7], 1), 7);
});

Deno.test("h2loadCommand runs one thread for a duration with a log file", () => {
  assert.deepEqual(
    h2loadCommand({
      url: "https://127.0.0.1:1/",
      connections: 16,
      streams: 8,
      seconds: 2,
      logFile: "/tmp/x.log",
    }),
    ["h2load", "-t1", "-c16", "-m8", "-D2", "--log-file=/tmp/x.log", "https://127.0.0.1:1/"],
  );
});
