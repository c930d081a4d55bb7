import assert from "node:assert/strict";
import process from "node:process";
import { parseObjectDocuments } from "../../../cli/documents.ts";
import { CtlError } from "../../../cli/errors.ts";

function problemsOf(text: string): { message: string; details: readonly string[] } {
  try {
    parseObjectDocuments(text, "objects.yaml");
  } catch (error) {
    assert.ok(error instanceof CtlError);
    return { message: error.message, details: error.details };
  }
  assert.fail("expected the input to be rejected");
}

Deno.test("parseObjectDocuments() reads each document with its position", () => {
  const docs = parseObjectDocuments(
    "---\nname: a\nkind: Pipeline\nflow: []\n---\n# empty\n---\nname: b\nkind: HTTPServer\n",
    "objects.yaml",
  );
  assert.deepEqual(docs.map((d) => [d.index, d.name, d.kind]), [
    [1, "a", "Pipeline"],
    [3, "b", "HTTPServer"],
  ]);
  assert.deepEqual(docs[0].spec, { name: "a", kind: "Pipeline", flow: [] });
});

Deno.test("parseObjectDocuments() accepts JSON documents", () => {
  const [doc] = parseObjectDocuments('{"name": "a", "kind": "Pipeline"}', "stdin");
  assert.equal(doc.name, "a");
});

Deno.test("parseObjectDocuments() resolves anchors and aliases", () => {
  const [doc] = parseObjectDocuments(
    "name: a\nkind: Pipeline\nx: &v {k: 1}\ny: *v\n",
    "stdin",
  );
  assert.deepEqual(doc.spec.y, { k: 1 });
});

Deno.test("parseObjectDocuments() merges << keys, as Easegress's YAML reader does", () => {
  const [doc] = parseObjectDocuments(
    "name: a\nkind: Pipeline\nfilters:\n- &m {name: m1, kind: Mock, code: 200}\n- <<: *m\n  name: m2\n",
    "stdin",
  );
  assert.deepEqual(doc.spec.filters, [
    { name: "m1", kind: "Mock", code: 200 },
    { name: "m2", kind: "Mock", code: 200 },
  ]);
});

Deno.test("parseObjectDocuments() lists every bad document at once", () => {
  const { message, details } = problemsOf(
    "name: ok\nkind: Pipeline\n---\nkind: Pipeline\n---\nname: x\nkind: ''\n---\njust text\n" +
      "---\nname: [1]\nkind: {a: 1}\n",
  );
  assert.equal(message, "objects.yaml has 4 invalid documents; nothing was sent");
  assert.deepEqual(details, [
    "document 2: missing name",
    'document 3 (name "x"): kind must not be empty',
    'document 4: must be a map with name and kind, got string "just text"',
    "document 5: name must be a string, got a list; kind must be a string, got a map",
  ]);
});

Deno.test("parseObjectDocuments() rejects duplicate keys and broken YAML", () => {
  const { details } = problemsOf("name: a\nname: b\nkind: P\n---\nname: 'open\n");
  assert.equal(details.length, 2);
  assert.equal(details[0], "document 1: invalid YAML: Map keys must be unique at line 2, column 1");
  assert.match(details[1], /^document 2: invalid YAML: /);
  assert.deepEqual(
    problemsOf("name: a\nkind: P\n<<: 5\n---\nname: b\nkind: P\nx: *nope\n").details,
    [
      "document 1: invalid YAML: Merge sources must be maps or map aliases",
      "document 2: invalid YAML: Unresolved alias (the anchor must be set before the alias): nope",
    ],
  );
});

Deno.test("parseObjectDocuments() rejects input without objects", () => {
  assert.deepEqual(problemsOf(""), { message: "no objects found in objects.yaml", details: [] });
  assert.equal(problemsOf("---\n---\n# c\n").message, "no objects found in objects.yaml");
});

Deno.test("parseObjectDocuments() reads a collection key without a process warning", () => {
  const warnings: unknown[] = [];
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning: string | Error) => void warnings.push(warning);
  try {
    const [doc] = parseObjectDocuments("name: a\nkind: P\n? [x, y]\n: 1\n", "objects.yaml");
    assert.equal(doc.name, "a");
  } finally {
    process.emitWarning = emitWarning;
  }
  assert.deepEqual(warnings, []);
});
