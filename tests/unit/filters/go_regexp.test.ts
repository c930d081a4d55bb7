/**
 * Go (RE2) regular expressions translated to JavaScript: each expectation is
 * what Go's `regexp.MustCompile(p).MatchString(s)` / `FindString(s)` returns.
 */
import assert from "node:assert/strict";
import { SpecReader } from "../../../filters/spec.ts";
import { compileGoRegexp, translateGoRegexp } from "../../../filters/go_regexp.ts";

/** Go's `MatchString`. */
function matches(pattern: string, s: string): boolean {
  return compileGoRegexp(pattern).test(s);
}

/** Go's `FindString` ("" when nothing matches). */
function find(pattern: string, s: string): string {
  return compileGoRegexp(pattern).exec(s)?.[0] ?? "";
}

/** Asserts `pattern` matches every string of `yes` and none of `no`. */
function check(pattern: string, yes: string[], no: string[]): void {
  for (const s of yes) {
    assert.ok(matches(pattern, s), `${pattern} should match ${JSON.stringify(s)}`);
  }
  for (const s of no) {
    assert.ok(!matches(pattern, s), `${pattern} should not match ${JSON.stringify(s)}`);
  }
}

/** The reason compileGoRegexp gives for a pattern Go rejects or we cannot translate. */
function reason(pattern: string): string {
  try {
    compileGoRegexp(pattern);
  } catch (e) {
    assert.ok(e instanceof SyntaxError, String(e));
    return e.message.replace(/^Invalid regular expression: \/.*\/: /s, "");
  }
  throw new Error(`${pattern} compiled`);
}

Deno.test("Go regexp: POSIX classes inside brackets", () => {
  check("^[[:digit:]]+$", ["123"], [":]", "12a", "١٢"]);
  check("^[[:alpha:]]+$", ["abcXYZ"], ["ab1", "é"]);
  check("^[^[:space:]]+$", ["abc"], ["a b", "a\vb", "a\tb"]);
  check("^[[:^alpha:]]+$", ["1 !"], ["a", "1a"]);
  check("^[[:word:]]+$", ["a_1"], ["a-1"]);
  check("^[[:punct:]]+$", ["!-/:@[`{~"], ["a", " "]);
  check("^[[:alpha:][:digit:]_]+$", ["a1_"], ["a-"]);
  check("^[[:blank:]]$", [" ", "\t"], ["\n"]);
  check("^[[:cntrl:]]$", ["\x00", "\x7f"], [" "]);
  check("^[[:print:]]+$", ["a b~"], ["\t"]);
  check("^[[:graph:]]+$", ["a!"], [" "]);
  check("^[[:ascii:]]+$", ["\x00\x7f"], ["é"]);
  assert.equal(find("[[:xdigit:]]+", "zzF0az"), "F0a");
  assert.equal(find("[[:upper:][:lower:]]+", "1aB2"), "aB");
  // Outside brackets `[:alpha:]` is the set of ':', 'a', 'l', 'p', 'h'.
  check("^[:alpha:]$", [":", "p"], ["b"]);
  // A `[` that starts no POSIX class is a literal.
  check("^[[a]+$", ["[a["], ["b"]);
  assert.match(reason("[[:foo:]]"), /invalid character class range: `\[:foo:\]`/);
});

Deno.test("Go regexp: POSIX and Perl classes fold under (?i) before negation", () => {
  check("(?i)^[[:upper:]]+$", ["aB"], ["1"]);
  check("(?i)^[[:^upper:]]$", ["1", "é"], ["a", "A", "\u212a", "\u017f"]);
  check("(?i)^[^a-c]$", ["d"], ["B", "b"]);
  check("(?i)^\\W$", ["-"], ["\u017f", "\u212a", "A"]);
});

Deno.test("Go regexp: \\pL, \\PL, \\pN, \\p{Greek}, \\p{Lu}, \\p{^..}", () => {
  check("^\\pL+$", ["héllo", "Ωμέγα", "日本"], ["a1", ""]);
  check("^\\PL$", ["1", "-"], ["a", "é"]);
  check("^\\pN+$", ["123\u0663"], ["a"]);
  check("^\\p{Greek}+$", ["αβγ"], ["abc"]);
  check("^\\p{Lu}$", ["Ä", "A"], ["ä", "a"]);
  check("^\\p{^Greek}$", ["a"], ["α"]);
  check("^\\P{^Greek}$", ["α"], ["a"]);
  check("^[\\p{Greek}\\d]+$", ["α1β"], ["a"]);
  check("^[^\\pL]$", ["1"], ["a"]);
  check("^[a\\PL]$", ["a", "1"], ["b"]);
  check("^\\p{Any}$", ["x", "😀"], []);
  // Go's C is Cc|Cf|Co|Cs: unassigned code points (U+0378) are not in it.
  check("^\\pC$", ["\x00", "\u200b"], ["\u0378", "a"]);
  check("^\\PC$", ["a", "\u0378"], ["\x00"]);
  // Go folds Unicode classes under (?i).
  check("(?i)^\\p{Lu}$", ["a", "A"], ["1"]);
  check("(?i)^\\P{Lu}$", ["1"], ["a", "A"]);
  check("(?i)^[\\P{Lu}]$", ["1"], ["a", "A"]);
  // The `u` flag does not change Go's other escapes.
  check("^\\pL\\:\\-\\d\\s\\w$", ["a:-1 _"], ["a:-١ _", "a:-1\v_"]);
  assert.match(reason("\\p{Foo}"), /invalid character class range: `\\p\{Foo\}`/);
  assert.match(reason("(?i)[a\\PL]"), /negated Unicode class \(`\\PL`\)/);
  assert.equal(translateGoRegexp("\\pL").flags, "u");
});

Deno.test("Go regexp: \\A, \\z and $ are about the whole text", () => {
  check("\\Aab", ["abc"], ["cab"]);
  check("(?m)\\Aa", ["a\nb"], ["b\na"]);
  check("(?m)^a", ["b\na"], []);
  check("a\\z", ["ba"], ["a\n"]);
  check("a$", ["ba"], ["a\n", "a\nb"]);
  check("(?m)a$", ["a\nb"], []);
  check("(?m)a\\z", [], ["a\nb"]);
});

Deno.test("Go regexp: \\Q...\\E quotes literally", () => {
  check("^\\Qa.b\\E$", ["a.b"], ["axb"]);
  check("^\\Q*+?()[]{}|^$\\E$", ["*+?()[]{}|^$"], []);
  // A repetition after \E applies to the last quoted character.
  check("^\\Qab\\E+$", ["abbb"], ["abab"]);
  // Without \E, the rest of the pattern is quoted.
  check("^\\Qa.b", ["a.b$"], ["axb"]);
  check("(?i)^\\Qab\\E$", ["AB"], []);
});

Deno.test("Go regexp: inline flags in the middle and flag groups", () => {
  check("^a(?i)b$", ["ab", "aB"], ["AB"]);
  check("^(?i:ab)c$", ["ABc"], ["ABC"]);
  // Flags last to the end of the group, across alternatives.
  check("^(?:x|(?i)y|z)$", ["x", "Y", "Z"], ["X"]);
  check("^((?i)a|b)c$", ["Ac", "Bc"], ["BC"]);
  check("^(?i)a(?-i)b$", ["Ab"], ["AB"]);
  check("^(?i:a(?-i:b)c)$", ["AbC"], ["ABC"]);
  // Non-ASCII letters under (?i) use JavaScript's case folding (modifiers).
  check("^a(?i)é$", ["aÉ", "aé"], ["AÉ"]);
  check("(?i)^é$", ["É"], []);
  check("^(?:x(?i)é|y)$", ["xÉ", "Y"], ["X"]);
  // Go folds k with the Kelvin sign and s with ſ.
  check("(?i)^k$", ["K", "\u212a"], []);
  check("(?i)^s\\w$", ["\u017fa", "S\u017f"], []);
  // (?U) swaps greedy and non-greedy.
  assert.equal(find("(?U)a+", "aaa"), "a");
  assert.equal(find("(?U)a+?", "aaa"), "aaa");
  assert.equal(find("(?U:a*)b", "aab"), "aab");
  assert.equal(find("a{2,3}?", "aaaa"), "aa");
  // (?s) lets . match \n; . alone matches \r and U+2028 but not \n.
  check("^a.b$", ["a\rb", "a\u2028b"], ["a\nb"]);
  check("(?s)^a.b$", ["a\nb"], []);
  check("^(?s:.).$", ["\nx"], ["x\n"]);
  // (?m): ^ and $ at \n only (not at \r, unlike JavaScript's m flag).
  check("(?m)^b$", ["a\nb\nc", "b"], ["a\r\nb\r\n"]);
  check("^a(?m:$)\\n^?b", ["a\nb"], []);
  assert.match(reason("(?i-)a"), /invalid or unsupported Perl syntax: `\(\?i-\)`/);
  assert.match(reason("(?i)*"), /missing argument to repetition operator/);
});

Deno.test("Go regexp: \\d \\w \\s \\b are ASCII, \\s is [\\t\\n\\f\\r ]", () => {
  check("^\\d$", ["7"], ["\u0663"]);
  check("^\\w$", ["a", "_"], ["é"]);
  check("^\\s$", ["\t", "\n", "\f", "\r", " "], ["\v", "\u00a0", "\u2003", "\ufeff"]);
  check("^\\S$", ["\v", "\u00a0"], [" "]);
  check("^[\\s]$", ["\t"], ["\v"]);
  check("^[^\\s]$", ["\v"], ["\n"]);
  check("^[\\S]$", ["x"], ["\r"]);
  check("^a\\b", ["aé", "a b"], ["ab"]);
  check("^\\s+$", ["\t\n\f\r "], []);
});

Deno.test("Go regexp: escapes, repetitions, groups as Go reads them", () => {
  check("^\\x41\\x{263A}\\101\\0$", ["A☺A\x00"], []);
  check("^\\a\\f\\v\\t$", ["\x07\f\v\t"], []);
  check("^\\:\\#\\ \\_$", [":# _"], []);
  check("^a{,3}$", ["a{,3}"], ["aaa"]);
  check("^a{01}$", ["a{01}"], ["a"]);
  check("^x]}$", ["x]}"], []);
  check("^*a", ["a"], []); // Go allows repeating an empty-width assertion
  check("^[]a]+$", ["]a"], ["b"]);
  check("^[^]a]$", ["b"], ["]"]);
  check("^[a-]+$", ["a-"], ["b"]);
  check("^[\\d-z]+$", ["1-z"], ["y"]);
  check("^😀+$", ["😀😀"], ["😀\ude00"]);
  check("^[😀-🙏]$", ["🙂"], ["a"]);
  const m = compileGoRegexp("(?P<year>\\d{4})-(?<month>\\d\\d)").exec("on 2024-05")!;
  assert.deepEqual({ ...m.groups }, { year: "2024", month: "05" });
  assert.match(reason("\\1"), /invalid escape sequence: `\\1`/);
  assert.match(reason("\\8"), /invalid escape sequence/);
  assert.match(reason("\\Z"), /invalid escape sequence/);
  assert.match(reason("[\\b]"), /invalid escape sequence/);
  assert.match(reason("\\C"), /`\\C` \(any byte\) is not supported/);
  assert.match(reason("a**"), /invalid nested repetition operator: `\*\*`/);
  assert.match(reason("x{2}{3}"), /invalid nested repetition operator/);
  assert.match(reason("*a"), /missing argument to repetition operator: `\*`/);
  assert.match(reason("a{1001}"), /invalid repeat count/);
  assert.match(reason("a{3,2}"), /invalid repeat count/);
  assert.match(reason("[z-a]"), /invalid character class range: `z-a`/);
  assert.match(reason("(?=a)"), /invalid or unsupported Perl syntax: `\(\?=`/);
  assert.match(reason("(?<!a)b"), /invalid or unsupported Perl syntax/);
  assert.match(reason("(?P<a>x)(?P<a>y)"), /duplicate capture group name/);
  assert.match(reason("(?P<a-b>x)"), /invalid named capture/);
  assert.match(reason("[a"), /missing closing \]/);
  assert.equal(reason("("), "Unterminated group");
  assert.match(reason("a)"), /unexpected \)/);
});

Deno.test("Go regexp: common patterns keep cheap flags (V8's linear fallback takes them)", () => {
  for (const p of ["^/api/v\\d+/(.*)$", "(?i)^/API", "^[[:alnum:]_-]+$", "(?m)^x", "\\s*,\\s*"]) {
    const t = translateGoRegexp(p);
    assert.equal(t.flags, "", p);
    assert.doesNotMatch(t.source, /\(\?[-i]+:/, p);
  }
  assert.deepEqual(translateGoRegexp("x", "g"), { source: "x", flags: "g" });
  assert.deepEqual(translateGoRegexp("é", "gu"), { source: "é", flags: "gu" });
  check("(?i)^ABC", ["abc"], []);
});

Deno.test("Go regexp: spec validation names the field and the construct", () => {
  const r = SpecReader.root({ a: "[[:digit:]]+", b: "x(?=y)", c: "\\pL" });
  r.regexp("a");
  r.regexp("b");
  r.regexp("c");
  assert.deepEqual(r.problems, [
    "b: is not a valid regular expression: Invalid regular expression: /x(?=y)/: " +
    "invalid or unsupported Perl syntax: `(?=`",
  ]);
});

Deno.test({
  name: "Go regexp: with the serve task's V8 flags, catastrophic backtracking does not stall",
  async fn() {
    const tasks = JSON.parse(
      await Deno.readTextFile(new URL("../../../deno.json", import.meta.url)),
    )
      .tasks as Record<string, string>;
    const flag = "--enable-experimental-regexp-engine-on-excessive-backtracks";
    assert.ok(tasks.serve.includes(flag) && tasks.compile.includes(flag));
    const spec = new URL("../../../filters/go_regexp.ts", import.meta.url).href;
    const script = `import { compileGoRegexp } from ${JSON.stringify(spec)};
      const s = "a".repeat(40) + "!";
      const hit = ["^(a+)+$", "(?i)^(A+)+$", "^(\\\\w+\\\\s?)+$"].some((p) => compileGoRegexp(p).test(s));
      console.log(JSON.stringify({ hit }));`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", `--v8-flags=${flag}`, script],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    // Without the flag this takes minutes; kill the child if it hangs.
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.ok(out.success, "child failed or timed out");
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(result.hit, false);
  },
});
