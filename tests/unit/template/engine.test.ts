/**
 * The template engine's JavaScript-facing behaviour: how JS values map to Go
 * values, registered functions, errors and reuse. Go-exact output for the
 * language itself is checked against Go's fixture in go_fixture.test.ts.
 */

import assert from "node:assert/strict";
import {
  compileTemplate,
  float64,
  GoFloat,
  goFunc,
  JsonNumber,
  TemplateError,
} from "../../../filters/template/mod.ts";
import { sprigFunctions } from "../../../filters/template/sprig.ts";
import { easegressFunctions } from "../../../filters/template/easegress_funcs.ts";

const run = (src: string, data?: unknown, funcs?: Parameters<typeof compileTemplate>[1]) =>
  compileTemplate(src, funcs).execute(data);

Deno.test("compileTemplate compiles once and executes many times", () => {
  const t = compileTemplate("{{range .}}{{.}},{{end}}");
  assert.equal(t.execute([1, 2]), "1,2,");
  assert.equal(t.execute(["a"]), "a,");
  assert.equal(t.execute(undefined), "");
});

Deno.test("plain objects are maps: missing keys print <no value>, nil prints <nil> in print", () => {
  assert.equal(
    run("{{.a}}|{{.b}}|{{print .a .b}}|{{.c.d}}", { a: null }),
    "<no value>|<no value>|<nil> <nil>|<no value>",
  );
  assert.equal(
    run("{{if .a}}y{{else}}n{{end}}{{if .b}}y{{else}}n{{end}}", { a: undefined, b: {} }),
    "nn",
  );
});

Deno.test("numbers: integral JS numbers are ints, others and float64() values are floats", () => {
  assert.equal(
    run("{{.a}} {{.b}} {{.c}} {{.d}} {{.e}}", {
      a: 1000000,
      b: 1.5,
      c: float64(1000000),
      d: 1e21,
      e: new GoFloat(2),
    }),
    "1000000 1.5 1e+06 1e+21 2",
  );
  assert.throws(
    () => run("{{eq .a .b}}", { a: 1, b: float64(1) }),
    /incompatible types for comparison/,
  );
  assert.equal(run('{{.n}} {{printf "%T" .n}}', { n: new JsonNumber("1.50") }), "1.50 json.Number");
});

Deno.test("objects with getters work as fields and are computed only when used", () => {
  let computed = 0;
  const data = {
    get lazy() {
      computed++;
      return { value: 42 };
    },
    other: 1,
  };
  assert.equal(run("{{.other}}", data), "1");
  assert.equal(computed, 0);
  assert.equal(run("{{.lazy.value}}", data), "42");
  assert.equal(computed, 1);
});

Deno.test("class instances are structs: capitalized fields, getters and methods", () => {
  class User {
    Name = "ann";
    secret = "x";
    get Upper() {
      return this.Name.toUpperCase();
    }
    Greet(greeting: unknown) {
      return `${greeting}, ${this.Name}`;
    }
    String() {
      return `User(${this.Name})`;
    }
  }
  const u = new User();
  assert.equal(
    run('{{.Name}} {{.Upper}} {{.Greet "hi"}} {{.}} {{print .}}', u),
    "ann ANN hi, ann User(ann) User(ann)",
  );
  assert.throws(() => run("{{.secret}}", u), /secret is an unexported field of struct type \*User/);
  assert.throws(() => run("{{.Missing}}", u), /can't evaluate field Missing in type \*User/);
  assert.throws(() => run("{{.Greet}}", u), /wrong number of args for Greet: want 1 got 0/);
});

Deno.test("registered functions: plain functions take any arguments, goFunc checks types", () => {
  const funcs = {
    join2: (a: unknown, b: unknown) => `${a}+${b}`,
    twice: goFunc(["int"], (n: number) => n * 2),
    boom: () => {
      throw new Error("bad thing");
    },
  };
  assert.equal(run('{{join2 1 "x"}} {{twice 21}} {{3 | twice}}', {}, { funcs }), "1+x 42 6");
  assert.throws(() => run('{{twice "x"}}', {}, { funcs }), /expected integer; found "x"/);
  assert.throws(() => run("{{boom}}", {}, { funcs }), /error calling boom: bad thing/);
  assert.throws(() => compileTemplate("{{x}}", { funcs: { "bad-name": () => 1 } }), TypeError);
});

Deno.test("user functions shadow builtins (sprig's slice replaces Go's)", () => {
  const funcs = sprigFunctions();
  assert.equal(run('{{slice "hello" 1 3}}'), "el");
  assert.throws(
    () => run('{{slice "hello" 1 3}}', {}, { funcs }),
    /list should be type of slice or array but string/,
  );
});

Deno.test("TemplateError carries the template name, line and column", () => {
  try {
    compileTemplate("a\n{{.x | nope}}", { name: "page" });
    assert.fail("expected a parse error");
  } catch (e) {
    assert.ok(e instanceof TemplateError);
    assert.equal(e.message, 'template: page:2: function "nope" not defined');
    assert.equal(e.templateName, "page");
    assert.equal(e.line, 2);
    assert.equal(e.column, undefined);
  }
  try {
    compileTemplate("x\n  é{{.a.b}}", { name: "page" }).execute({ a: 1 });
    assert.fail("expected an execution error");
  } catch (e) {
    assert.ok(e instanceof TemplateError);
    assert.equal(
      e.message,
      'template: page:2:8: executing "page" at <.a.b>: can\'t evaluate field b in type interface {}',
    );
    assert.equal(e.line, 2);
    assert.equal(e.column, 8);
  }
});

Deno.test("executeTemplate runs a defined template; templateNames lists the set", () => {
  const t = compileTemplate(
    '{{define "item"}}<{{.}}>{{end}}{{range .}}{{template "item" .}}{{end}}',
    { name: "list" },
  );
  assert.deepEqual(t.templateNames(), ["item", "list"]);
  assert.equal(t.execute([1, 2]), "<1><2>");
  assert.equal(t.executeTemplate("item", "x"), "<x>");
  assert.throws(
    () => t.executeTemplate("nope", 1),
    /no template "nope" associated with template "list"/,
  );
});

Deno.test("usesField reports the field and method names a template refers to", () => {
  const t = compileTemplate(
    "{{.a.Body}}{{range $x := .items}}{{$x.JSONBody.y}}{{end}}{{(index .l 0).RawBody}}",
  );
  for (const name of ["a", "Body", "items", "JSONBody", "y", "l", "RawBody"]) {
    assert.ok(t.usesField(name), name);
  }
  assert.ok(!t.usesField("YAMLBody"));
});

Deno.test("else with chains like else if (Go 1.23)", () => {
  const src = "{{with .a}}A{{.}}{{else with .b}}B{{.}}{{else}}none{{end}}";
  assert.equal(run(src, { a: 1 }), "A1");
  assert.equal(run(src, { b: 2 }), "B2");
  assert.equal(run(src, {}), "none");
});

Deno.test("deep template recursion stops with Go's depth error instead of crashing", () => {
  const t = compileTemplate('{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}', {
    name: "t",
  });
  assert.throws(() => t.execute(1), /exceeded maximum template depth \(100000\)/);
});

Deno.test("sprig extras: merge fills missing keys, uuidv4, now and date", () => {
  const funcs = sprigFunctions();
  assert.equal(
    run(
      '{{$d := dict "a" 1 "n" (dict "x" 1)}}{{merge $d (dict "a" 2 "b" 3 "n" (dict "y" 2)) | toJson}}',
      {},
      { funcs },
    ),
    '{"a":1,"b":3,"n":{"x":1,"y":2}}',
  );
  assert.match(
    run("{{uuidv4}}", {}, { funcs }),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.match(run('{{now | date "2006"}}', {}, { funcs }), /^20\d\d$/);
  assert.match(
    run("{{now}}", {}, { funcs }),
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+ m=\+\d+\.\d{9}$/,
  );
  assert.match(run("{{unixEpoch now}}", {}, { funcs }), /^\d{10}$/);
});

Deno.test("Easegress log writes at the named level and prints nothing", () => {
  const lines: string[] = [];
  const rec = (level: string) => (m: string) => lines.push(`${level}:${m}`);
  const funcs = easegressFunctions({
    debug: rec("debug"),
    info: rec("info"),
    warn: rec("warn"),
    error: rec("error"),
  });
  assert.equal(
    run('[{{log "info" "a"}}{{log "error" .}}{{log "other" "c"}}]', "b", { funcs }),
    "[]",
  );
  assert.deepEqual(lines, ["info:a", "error:b"]);
});
