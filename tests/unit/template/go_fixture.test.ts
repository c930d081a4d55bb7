/**
 * Runs every case of gogen/fixture.json (outputs and errors produced by Go's
 * text/template, see gogen/main.go) through the TypeScript engine.
 */

import assert from "node:assert/strict";
import { compileTemplate, float64, JsonNumber } from "../../../filters/template/mod.ts";
import { sprigFunctions } from "../../../filters/template/sprig.ts";
import { easegressFunctions } from "../../../filters/template/easegress_funcs.ts";
import { httpHeader, stringSlice } from "../../../filters/template/gotypes.ts";

interface Case {
  name: string;
  template: string;
  data: string;
  funcs: string;
  leftDelim?: string;
  rightDelim?: string;
  output: string;
  error?: string;
}

const fixture: Case[] = JSON.parse(
  await Deno.readTextFile(new URL("./gogen/fixture.json", import.meta.url)),
);

/** Behaviour newer than the Go 1.19 that generated the fixture (Go 1.23 semantics). */
const NEWER_GO: Record<string, Partial<Case>> = {
  "else with": { output: "x", error: undefined },
};

/** Parses case data the way gogen's convert() does: integral numbers are ints. */
function parseData(text: string): unknown {
  if (!text) return undefined;
  const raw = JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value === "number" && context?.source) {
      if (/[.eE]/.test(context.source)) return float64(value);
      return Number.isSafeInteger(value) ? value : BigInt(context.source);
    }
    return value;
  });
  return typed(raw);
}

function typed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(typed);
  if (v && typeof v === "object" && !(v instanceof JsonNumber) && v.constructor === Object) {
    const o = v as Record<string, unknown>;
    switch (o.$type) {
      case "float":
        return float64(
          typeof o.value === "number" ? o.value : (o.value as { value: number }).value,
        );
      case "json.Number":
        return new JsonNumber(o.value as string);
      case "bytes":
        return new TextEncoder().encode(o.value as string);
      case "http.Header":
        return httpHeader(Object.entries(o.value as Record<string, string[]>));
      case "strings":
        return stringSlice(o.value as string[]);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, typed(x)]));
  }
  return v;
}

const noLog = { debug() {}, info() {}, warn() {}, error() {} };
const sprig = { ...sprigFunctions(), ...easegressFunctions(noLog) };

for (const c of fixture) {
  const expected = { ...c, ...NEWER_GO[c.name] };
  Deno.test(`template matches Go: ${c.name}`, () => {
    let output = "";
    let error: string | undefined;
    try {
      const t = compileTemplate(c.template, {
        name: "t",
        leftDelim: c.leftDelim,
        rightDelim: c.rightDelim,
        funcs: c.funcs === "sprig" ? sprig : undefined,
      });
      output = t.execute(parseData(c.data));
    } catch (e) {
      error = (e as Error).message;
    }
    if (expected.error) {
      assert.equal(error, expected.error);
    } else {
      assert.equal(error, undefined);
      assert.equal(output, expected.output);
    }
  });
}
