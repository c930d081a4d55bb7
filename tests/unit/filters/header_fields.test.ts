import assert from "node:assert/strict";
import {
  fieldName,
  fieldValue,
  firstFieldValue,
  HeaderFields,
  isHeaders,
  knownFieldName,
  knownFieldNameAt,
} from "../../../filters/header_fields.ts";

/** mulberry32: a tiny deterministic PRNG, so a failing sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = { ok: unknown } | { threw: string };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    return { threw: (e as Error).constructor.name };
  }
}

/** Everything iteration and getSetCookie expose, for comparing two `Headers`. */
function snapshot(h: Headers) {
  const forEach: [string, string][] = [];
  const thisArg = {};
  h.forEach(function (this: unknown, value, name, parent) {
    assert.equal(this, thisArg);
    assert.equal(parent, h);
    forEach.push([name, value]);
  }, thisArg);
  return {
    spread: [...h],
    entries: [...h.entries()],
    keys: [...h.keys()],
    values: [...h.values()],
    forEach,
    setCookie: h.getSetCookie(),
  };
}

const NAMES = [
  "Host",
  "host",
  "HOST",
  "X-A",
  "x-a",
  "Set-Cookie",
  "set-cookie",
  "Accept",
  "accept",
  "Content-Type",
  "content-type",
];
const BAD_NAMES = ["", "a b", "a:b", "é"];
const VALUES = [
  "1",
  "text/html",
  " padded ",
  "\ttabbed\t",
  " \t mixed \t ",
  "a, b",
  ",",
  "c=1; Path=/",
  "d=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
  "é\u00ff",
  "",
  "  ",
  "\t",
];
const BAD_VALUES = ["a\nb", "a\rb", "a\0b", "\u0100"];

function runDifferential(seed: number, ops: number, values: string[]): void {
  const rand = prng(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)];
  const name = () => rand() < 0.03 ? pick(BAD_NAMES) : pick(NAMES);
  const value = () => rand() < 0.03 ? pick(BAD_VALUES) : pick(values);
  const real = new Headers();
  const ours = new HeaderFields();
  const log: string[] = [];
  for (let i = 0; i < ops; i++) {
    const kind = Math.floor(rand() * 6);
    let op: (h: Headers) => unknown;
    let label: string;
    if (kind === 0) {
      const [n, v] = [name(), value()];
      label = `append(${JSON.stringify(n)}, ${JSON.stringify(v)})`;
      op = (h) => h.append(n, v);
    } else if (kind === 1) {
      const [n, v] = [name(), value()];
      label = `set(${JSON.stringify(n)}, ${JSON.stringify(v)})`;
      op = (h) => h.set(n, v);
    } else if (kind === 2) {
      const n = name();
      label = `delete(${JSON.stringify(n)})`;
      op = (h) => h.delete(n);
    } else if (kind === 3) {
      const n = name();
      label = `get(${JSON.stringify(n)})`;
      op = (h) => h.get(n);
    } else if (kind === 4) {
      const n = name();
      label = `has(${JSON.stringify(n)})`;
      op = (h) => h.has(n);
    } else {
      label = "getSetCookie()";
      op = (h) => h.getSetCookie();
    }
    log.push(label);
    const context = () => `seed ${seed}, op ${i}; last ops:\n  ${log.slice(-12).join("\n  ")}`;
    assert.deepEqual(outcome(() => op(ours)), outcome(() => op(real)), context());
    if (i % 20 === 0 || i === ops - 1) {
      assert.deepEqual(snapshot(ours), snapshot(real), context());
    }
  }
}

Deno.test("differential: random operations give the same results as Headers (no empty values)", () => {
  // Values that never trim to "" (so the empty-value join difference, tested
  // on its own below, does not mask anything else).
  const nonEmpty = VALUES.filter((v) => fieldValue(v) !== "");
  for (const seed of [1, 2, 3, 42, 2024]) runDifferential(seed, 4000, nonEmpty);
});

Deno.test("differential: random operations give the same results as Headers (all values)", () => {
  for (const seed of [1, 2, 3, 42, 2024]) runDifferential(seed, 4000, VALUES);
});

Deno.test("iteration joins repeated fields after an empty value like Headers", () => {
  // Deno's Headers skips the ", " separator while the joined value so far is
  // empty; get() still joins with ", ".
  for (
    const fields of [
      [["a", ""], ["a", "b"]],
      [["a", " "], ["a", "b"]],
      [["a", ""], ["a", ""], ["a", "c"]],
      [["a", "b"], ["a", ""], ["a", "c"]],
      [["a", ""], ["a", ""]],
    ] as [string, string][][]
  ) {
    const real = new Headers(fields);
    const ours = new HeaderFields(fields);
    assert.equal(ours.get("a"), real.get("a"), JSON.stringify(fields));
    assert.deepEqual([...ours], [...real], JSON.stringify(fields));
  }
});

Deno.test("invalid names and values throw a TypeError exactly when Headers does", () => {
  const names = [
    "",
    "a b",
    "a:b",
    "é",
    "x\n",
    "\nx",
    " x",
    "x ",
    "a\tb",
    "(x)",
    "a/b",
    "a@b",
    "a=b",
    "{",
    "\u0100",
    "\u{1F600}",
    "a\0",
    "\x7f",
    "ok",
    "OK-Name",
    "!#$%&'*+-.^_`|~09azAZ",
  ];
  const values = [
    "a\nb",
    "a\rb",
    "a\0b",
    "\u0100",
    "a\u2028",
    "\u{1F600}",
    "\0",
    "\n",
    " \r\n ",
    "a\n",
    "\nb",
    "\r",
    "x\t\r\n",
    "é",
    "\x7f",
    "\x01",
    "\v",
    "",
    "ok",
  ];
  const ops: [string, (h: Headers, n: string, v: string) => unknown][] = [
    ["append", (h, n, v) => h.append(n, v)],
    ["set", (h, n, v) => h.set(n, v)],
    ["get", (h, n) => h.get(n)],
    ["has", (h, n) => h.has(n)],
    ["delete", (h, n) => h.delete(n)],
  ];
  for (const n of names) {
    for (const [label, op] of ops) {
      const real = outcome(() => op(new Headers(), n, "v"));
      const ours = outcome(() => op(new HeaderFields(), n, "v"));
      assert.deepEqual(ours, real, `${label} name ${JSON.stringify(n)}`);
    }
    assert.deepEqual(
      outcome(() => [...new HeaderFields([[n, "v"]])]),
      outcome(() => [...new Headers([[n, "v"]])]),
      `constructor name ${JSON.stringify(n)}`,
    );
    assert.deepEqual(
      outcome(() => [...new HeaderFields({ [n]: "v" })]),
      outcome(() => [...new Headers({ [n]: "v" })]),
      `constructor record name ${JSON.stringify(n)}`,
    );
    assert.equal(
      "threw" in outcome(() => fieldName(n)),
      "threw" in outcome(() => new Headers().append(n, "v")),
      `fieldName(${JSON.stringify(n)})`,
    );
  }
  for (const v of values) {
    for (const [label, op] of ops.slice(0, 2)) {
      const real = new Headers();
      const ours = new HeaderFields();
      assert.deepEqual(
        outcome(() => op(ours, "x", v)),
        outcome(() => op(real, "x", v)),
        `${label} value ${JSON.stringify(v)}`,
      );
      assert.deepEqual([...ours], [...real], `${label} value ${JSON.stringify(v)}`);
    }
    assert.equal(
      "threw" in outcome(() => fieldValue(v)),
      "threw" in outcome(() => new Headers().append("x", v)),
      `fieldValue(${JSON.stringify(v)})`,
    );
  }
});

/** Asserts that `call` throws a TypeError quoting `bad` and saying what it is (`kind`). */
function assertTypeErrorNaming(call: () => unknown, bad: string, kind: RegExp): void {
  assert.throws(call, (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
    assert.match(e.message, kind);
    return true;
  });
}

Deno.test("the TypeError names the bad name or value", () => {
  for (const bad of ["a b", "a:b", "é", "x\n", "\u0100"]) {
    for (
      const call of [
        () => new HeaderFields().append(bad, "v"),
        () => new HeaderFields().set(bad, "v"),
        () => new HeaderFields().get(bad),
        () => new HeaderFields().has(bad),
        () => new HeaderFields().delete(bad),
        () => fieldName(bad),
      ]
    ) {
      assertTypeErrorNaming(call, bad, /name/i);
    }
  }
  assert.throws(() => new HeaderFields().append("", "v"), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /name.*empty/i);
    return true;
  });
  for (const bad of ["a\nb", "a\rb", "a\0b", "\u0100", " a\nb "]) {
    for (
      const call of [
        () => new HeaderFields().append("x", bad),
        () => new HeaderFields().set("x", bad),
        () => new HeaderFields({ x: bad }),
        () => fieldValue(bad),
      ]
    ) {
      assertTypeErrorNaming(call, bad, /value/i);
    }
  }
});

Deno.test("fieldName lower-cases and fieldValue trims HTTP whitespace only", () => {
  assert.equal(fieldName("Content-Type"), "content-type");
  assert.equal(fieldName("x-a"), "x-a");
  assert.equal(fieldValue(" \t\r\n a b \t\r\n "), "a b");
  assert.equal(fieldValue("\u00a0a\u00a0"), "\u00a0a\u00a0");
  assert.equal(fieldValue("\va\f"), "\va\f");
  assert.equal(fieldValue(""), "");
  assert.equal(fieldValue("  "), "");
});

Deno.test("constructor from a record, pairs, Headers and HeaderFields", () => {
  const record = { "Content-Type": " text/plain ", "X-A": "1", "x-b": "" };
  assert.deepEqual(snapshot(new HeaderFields(record)), snapshot(new Headers(record)));

  const pairs: [string, string][] = [
    ["X-A", "1"],
    ["x-a", " 2 "],
    ["Set-Cookie", "a=1"],
    ["set-cookie", "b=2"],
    ["Accept", "*/*"],
  ];
  assert.deepEqual(snapshot(new HeaderFields(pairs)), snapshot(new Headers(pairs)));
  // Any iterable of two-item iterables works, as for Headers.
  const iterable = new Map([["a", "1"], ["B", "2"]]);
  assert.deepEqual(snapshot(new HeaderFields(iterable)), snapshot(new Headers(iterable)));

  const real = new Headers(pairs);
  const fromReal = new HeaderFields(real);
  assert.deepEqual(fromReal.getSetCookie(), ["a=1", "b=2"]);
  assert.deepEqual(snapshot(fromReal), snapshot(real));
  fromReal.append("x-new", "1");
  assert.equal(real.has("x-new"), false);

  const original = new HeaderFields(pairs);
  const copy = new HeaderFields(original);
  assert.deepEqual(snapshot(copy), snapshot(original));
  copy.set("x-a", "changed");
  copy.append("set-cookie", "c=3");
  copy.delete("accept");
  assert.equal(original.get("x-a"), "1, 2");
  assert.deepEqual(original.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(original.get("accept"), "*/*");
  original.append("x-only-original", "1");
  assert.equal(copy.has("x-only-original"), false);
  assert.deepEqual(copy.getSetCookie(), ["a=1", "b=2", "c=3"]);

  assert.equal(new HeaderFields().size, 0);
  assert.deepEqual([...new HeaderFields(undefined)], []);
  assert.deepEqual([...new HeaderFields([])], []);
  assert.deepEqual([...new HeaderFields({})], []);
});

Deno.test("a pair with other than two items throws a TypeError, as for Headers", () => {
  for (const bad of [[["a"]], [["a", "1", "2"]], [[]], [["a", "1"], ["b"]]]) {
    assert.throws(() => new Headers(bad as [string, string][]), TypeError);
    assert.throws(
      () => new HeaderFields(bad as [string, string][]),
      TypeError,
      JSON.stringify(bad),
    );
  }
  // Invalid fields in the init are refused like Headers does.
  assert.throws(() => new HeaderFields([["a b", "1"]]), TypeError);
  assert.throws(() => new HeaderFields({ "a:b": "1" }), TypeError);
});

Deno.test("constructor edge cases behave like Headers", () => {
  const cases: [string, unknown][] = [
    ["null", null],
    ["a string as a pair", [["a", "1"], "xy"]],
    ["a pair whose value is undefined", [["a", undefined]]],
    ["a string", "abc"],
    ["a number", 5],
  ];
  const differences: string[] = [];
  for (const [label, init] of cases) {
    const run = (make: () => Headers) =>
      outcome(() => {
        const h = make();
        return [...h];
      });
    const real = run(() => new Headers(init as HeadersInit));
    const ours = run(() => new HeaderFields(init as HeadersInit));
    if (JSON.stringify(real) !== JSON.stringify(ours)) {
      differences.push(
        `${label}: Headers ${JSON.stringify(real)}, HeaderFields ${JSON.stringify(ours)}`,
      );
    }
  }
  assert.deepEqual(differences, []);
});

Deno.test("missing arguments and a non-callable forEach callback throw like Headers", () => {
  // deno-lint-ignore no-explicit-any
  const calls: [string, (h: any) => unknown][] = [
    ["get()", (h) => h.get()],
    ["has()", (h) => h.has()],
    ["delete()", (h) => h.delete()],
    ["append('a')", (h) => h.append("a")],
    ["set('a')", (h) => h.set("a")],
    ["forEach(undefined) on an empty one", (h) => h.forEach(undefined)],
  ];
  const differences: string[] = [];
  for (const [label, call] of calls) {
    const real = outcome(() => call(new Headers()));
    const ours = outcome(() => call(new HeaderFields()));
    if (JSON.stringify(real) !== JSON.stringify(ours)) {
      differences.push(
        `${label}: Headers ${JSON.stringify(real)}, HeaderFields ${JSON.stringify(ours)}`,
      );
    }
  }
  assert.deepEqual(differences, []);
});

Deno.test("a Response accepts HeaderFields as HeadersInit and keeps every field", async () => {
  const h = new HeaderFields([["a", "1"], ["set-cookie", "c=1"], ["set-cookie", "d=2"]]);
  assert.equal(Object.prototype.toString.call(h), "[object Headers]");
  const response = new Response("x", { headers: h });
  assert.deepEqual([...response.headers], [
    ["a", "1"],
    ["content-type", "text/plain;charset=UTF-8"],
    ["set-cookie", "c=1"],
    ["set-cookie", "d=2"],
  ]);
  assert.deepEqual(response.headers.getSetCookie(), ["c=1", "d=2"]);
  assert.equal(await response.text(), "x");

  const request = new Request("http://gw.test/", { headers: h });
  assert.equal(request.headers.get("a"), "1");
  assert.deepEqual(request.headers.getSetCookie(), ["c=1", "d=2"]);

  const real = new Headers(h);
  assert.deepEqual([...real], [...h]);
  assert.deepEqual(real.getSetCookie(), h.getSetCookie());
});

Deno.test("forEachField keeps arrival order, original names lower-cased, and repeats", () => {
  const h = new HeaderFields();
  h.append("Zeta", " 1 ");
  h.append("Set-Cookie", "a=1");
  h.append("alpha", "2");
  h.append("zeta", "3");
  h.append("set-cookie", "b=2");
  h.appendChecked("x-raw", "v");
  const seen: [string, string][] = [];
  h.forEachField((value, name) => seen.push([name, value]));
  assert.deepEqual(seen, [
    ["zeta", "1"],
    ["set-cookie", "a=1"],
    ["alpha", "2"],
    ["zeta", "3"],
    ["set-cookie", "b=2"],
    ["x-raw", "v"],
  ]);
  assert.equal(h.size, 6);
  assert.deepEqual([...h], [
    ["alpha", "2"],
    ["set-cookie", "a=1"],
    ["set-cookie", "b=2"],
    ["x-raw", "v"],
    ["zeta", "1, 3"],
  ]);

  // set() keeps the first occurrence's place and drops the later ones.
  h.set("ZETA", "9");
  seen.length = 0;
  h.forEachField((value, name) => seen.push([name, value]));
  assert.deepEqual(seen, [
    ["zeta", "9"],
    ["set-cookie", "a=1"],
    ["alpha", "2"],
    ["set-cookie", "b=2"],
    ["x-raw", "v"],
  ]);
  assert.equal(h.size, 5);
  h.delete("Set-Cookie");
  assert.equal(h.size, 3);
  assert.deepEqual(h.getSetCookie(), []);
});

Deno.test("appendChecked stores what it is given without checking", () => {
  const h = new HeaderFields();
  h.appendChecked("x-a", " kept as is ");
  assert.equal(h.get("x-a"), " kept as is ");
  assert.deepEqual([...h], [["x-a", " kept as is "]]);
});

Deno.test("clone() is independent of the original", () => {
  const h = new HeaderFields([["a", "1"], ["set-cookie", "c=1"]]);
  const [before] = [[...h]];
  const c = h.clone();
  assert.ok(c instanceof HeaderFields);
  assert.notEqual(c, h);
  assert.deepEqual([...c], before);
  c.append("a", "2");
  c.set("b", "3");
  c.append("set-cookie", "d=2");
  assert.deepEqual([...h], before);
  h.delete("a");
  assert.deepEqual([...c], [["a", "1, 2"], ["b", "3"], ["set-cookie", "c=1"], [
    "set-cookie",
    "d=2",
  ]]);
  // Iterating, then changing, then iterating again sees the change (no stale cache).
  assert.deepEqual([...h], [["set-cookie", "c=1"]]);
  h.append("a", "x");
  assert.deepEqual([...h], [["a", "x"], ["set-cookie", "c=1"]]);
  h.set("a", "y");
  assert.deepEqual([...h], [["a", "y"], ["set-cookie", "c=1"]]);
  h.delete("a");
  assert.deepEqual([...h], [["set-cookie", "c=1"]]);
});

Deno.test("isHeaders accepts Headers and HeaderFields, rejects lookalikes", () => {
  assert.equal(isHeaders(new Headers()), true);
  assert.equal(isHeaders(new HeaderFields()), true);
  assert.equal(isHeaders(new Response("").headers), true);
  assert.equal(isHeaders({}), false);
  assert.equal(isHeaders({ get: () => null, has: () => false }), false);
  assert.equal(isHeaders([["a", "1"]]), false);
  assert.equal(isHeaders(null), false);
  assert.equal(isHeaders(undefined), false);
  assert.equal(isHeaders("a: 1"), false);
});

Deno.test("fieldName gives common names in any case the same lower-case string", () => {
  for (const name of ["Content-Type", "content-type", "CONTENT-TYPE", "X-Real-Ip", "x-custom"]) {
    assert.equal(fieldName(name), name.toLowerCase());
  }
  // A known name is shared, not lowered anew.
  assert.equal(fieldName("Content-Type"), fieldName("content-type"));
  assert.throws(() => fieldName("Content Type"), TypeError);
});

Deno.test("knownFieldNameAt finds a common name inside a head, in any case, without slicing", () => {
  const head = "GET / HTTP/1.1\r\nCONTENT-length: 5\r\nx-custom: 1\r\nContent-Lengtx: 2\r\n";
  const at = (name: string) => {
    const start = head.indexOf(name);
    return knownFieldNameAt(head, start, start + name.length);
  };
  assert.equal(at("CONTENT-length"), "content-length");
  assert.equal(at("CONTENT-length"), knownFieldName("Content-Length"));
  assert.equal(at("x-custom"), undefined);
  // Same length, first and last char as a common name, different in between.
  assert.equal(at("Content-Lengtx"), undefined);
  assert.equal(
    knownFieldNameAt("Content-Lengt: 1", 0, 14),
    undefined,
    "a space is not a name char",
  );
  assert.equal(knownFieldNameAt("Host", 0, 0), undefined);
  // "@" and "`" differ by the bit that lowers letters: the shape matches, the compare must not.
  assert.equal(knownFieldNameAt("@ge", 0, 3), undefined);
  assert.equal(knownFieldNameAt("AGE", 0, 3), "age");
  for (const name of ["Host", "User-Agent", "x-forwarded-for", "WWW-Authenticate", "TE"]) {
    assert.equal(knownFieldNameAt(name, 0, name.length), knownFieldName(name), name);
  }
});

Deno.test("first and firstFieldValue give the first field's value whole, commas and all", () => {
  const h = new HeaderFields();
  h.appendChecked("user-agent", "Mozilla/5.0 (KHTML, like Gecko) Mobile Safari");
  h.appendChecked("x-env", "prod");
  h.appendChecked("x-env", "canary");
  assert.equal(h.first("User-Agent"), "Mozilla/5.0 (KHTML, like Gecko) Mobile Safari");
  assert.equal(h.first("x-env"), "prod");
  assert.equal(h.first("x-none"), null);
  assert.equal(firstFieldValue(h, "X-Env"), "prod");
  // The runtime's Headers keeps no field boundaries: all values, joined.
  const web = new Headers([["x-env", "prod"], ["x-env", "canary"]]);
  assert.equal(firstFieldValue(web, "x-env"), "prod, canary");
});
