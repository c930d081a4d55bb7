/**
 * slim-sprig functions beyond the Go-generated fixture: dates, durations,
 * environment, seq, dig, chunk and URLs, with outputs as Go and slim-sprig
 * give them.
 */

import assert from "node:assert/strict";
import { compileTemplate } from "../../../filters/template/mod.ts";
import { sprigFunctions } from "../../../filters/template/sprig.ts";

const funcs = sprigFunctions();
const run = (src: string, data?: unknown) => compileTemplate(src, { funcs }).execute(data);

Deno.test("every function of slim-sprig's table compiles (but getHostByName)", () => {
  const names = `ago date date_in_zone date_modify dateInZone dateModify duration durationRound
    htmlDate htmlDateInZone must_date_modify mustDateModify mustToDate now toDate unixEpoch seq
    toDecimal randInt mustCompact env expandenv osBase osClean osDir osExt osIsAbs mustAppend
    mustPush mustPrepend mustFirst mustRest mustLast mustInitial mustReverse mustUniq mustWithout
    mustHas mustSlice dig chunk mustChunk mustRegexFind mustRegexFindAll mustRegexReplaceAll
    mustRegexReplaceAllLiteral mustRegexSplit urlParse urlJoin`.split(/\s+/);
  assert.deepEqual(names.filter((n) => !(n in funcs)), []);
});

Deno.test("toDate parses Go layouts; a bad value is the zero time, mustToDate says why", () => {
  assert.equal(
    run(
      '{{dateInZone "2006-01-02 15:04:05.000" ' +
        '(toDate "2006-01-02T15:04:05.999Z07:00" "2020-03-04T10:20:30.5+02:00") "UTC"}}',
    ),
    "2020-03-04 08:20:30.500",
  );
  assert.equal(
    run(
      `{{dateInZone "Jan 2 2006 3:04PM" (toDate "02 Jan 06 15:04 MST" "04 mar 20 10:20 UTC") "UTC"}}`,
    ),
    "Mar 4 2020 10:20AM",
  );
  // No zone in the value: a local wall time, shown back in the local zone.
  assert.equal(
    run(
      '{{toDate "2006-01-02 15:04:05" "2020-03-04 10:20:30.123" | date "2006-01-02 15:04:05.000"}}',
    ),
    "2020-03-04 10:20:30.123",
  );
  assert.equal(
    run(
      '{{(toDate "2006-01-02" "bad").Unix}}|{{dateInZone "2006-01-02" (toDate "2006-01-02" "bad") "UTC"}}',
    ),
    "-62135596800|0001-01-01",
  );
  assert.throws(
    () => run('{{mustToDate "2006-01-02" "2020-13-01"}}'),
    /error calling mustToDate: parsing time "2020-13-01": month out of range/,
  );
  assert.throws(
    () => run('{{mustToDate "2006-01-02" "2020-03-04x"}}'),
    /parsing time "2020-03-04x": extra text: "x"/,
  );
  assert.throws(
    () => run('{{mustToDate "2006-01-02" "20-03-04"}}'),
    /parsing time "20-03-04" as "2006-01-02": cannot parse "20-03-04" as "2006"/,
  );
});

Deno.test("dateModify adds a Go duration, keeping the time when it does not parse", () => {
  const t = '(toDate "2006-01-02T15:04Z07:00" "2020-03-04T00:00Z")';
  assert.equal(
    run(
      `{{dateInZone "2006-01-02 15:04" (${t} | dateModify "-1.5h") "UTC"}}|` +
        `{{dateInZone "15:04" (${t} | date_modify "bogus") "UTC"}}|` +
        `{{dateInZone "15:04" (${t} | mustDateModify "90m") "UTC"}}`,
    ),
    "2020-03-03 22:30|00:00|01:30",
  );
  assert.throws(
    () => run(`{{${t} | mustDateModify "bogus"}}`),
    /error calling mustDateModify: time: invalid duration "bogus"/,
  );
  assert.throws(
    () => run('{{dateModify "1h" "x"}}'),
    /wrong type for value; expected time.Time; got string/,
  );
});

Deno.test("duration, durationRound and ago print as Go's Duration.String", () => {
  assert.equal(
    run('{{duration "95"}}|{{duration 3600}}|{{duration "x"}}|{{duration "90061"}}'),
    "1m35s|1h0m0s|0s|25h1m1s",
  );
  assert.equal(
    run(
      '{{durationRound "2h10m"}}|{{durationRound "400h"}}|{{durationRound "9000h"}}|' +
        '{{durationRound "-3s"}}|{{durationRound "1s"}}|{{durationRound "bad"}}',
    ),
    "2h|16d|1y|3s|0s|0s",
  );
  assert.equal(run("{{ago now}}"), "0s");
  assert.match(run('{{ago (toDate "2006" "2020")}}'), /^\d+h\d+m\d+s$/);
});

Deno.test("env and expandenv read the environment as os.Getenv and os.ExpandEnv", () => {
  Deno.env.set("SPRIG_TEST_VAR", "bar");
  try {
    assert.equal(run('{{env "SPRIG_TEST_VAR"}}|{{env "SPRIG_TEST_UNSET"}}'), "bar|");
    assert.equal(
      run('{{expandenv "a $SPRIG_TEST_VAR ${SPRIG_TEST_VAR}b $ ${} ${SPRIG_TEST_VAR"}}'),
      "a bar barb $  SPRIG_TEST_VAR",
    );
  } finally {
    Deno.env.delete("SPRIG_TEST_VAR");
  }
});

Deno.test("seq, toDecimal, dig and chunk as slim-sprig has them", () => {
  assert.equal(
    run(
      "{{seq 3}}|{{seq 1 3}}|{{seq 3 1}}|{{seq 0 2 10}}|{{seq 10 -3 1}}|{{seq 10 3 1}}|{{seq -2}}",
    ),
    "1 2 3|1 2 3|3 2 1|0 2 4 6 8 10|10 7 4 1||1 0 -1 -2",
  );
  assert.equal(run('{{toDecimal "0777"}}|{{toDecimal 777}}|{{toDecimal "9"}}'), "511|511|0");
  const data = { body: { user: { name: "ann" }, n: 1 } };
  assert.equal(
    run(
      '{{dig "user" "name" "anon" .body}}|{{dig "user" "age" 0 .body}}|{{dig "x" "def" .body}}',
      data,
    ),
    "ann|0|def",
  );
  assert.throws(
    () => run('{{dig "n" "x" "d" .body}}', data),
    /interface conversion: interface \{\} is int, not map\[string\]interface \{\}/,
  );
  assert.equal(
    run("{{chunk 2 (list 1 2 3 4 5)}}|{{chunk 3 (list)}}|{{mustChunk 2 (list 1 2)}}"),
    "[[1 2] [3 4] [5]]|[]|[[1 2]]",
  );
});

Deno.test("urlParse and urlJoin split and build URLs as Go's net/url", () => {
  assert.equal(
    run('{{urlParse "https://u:p@example.com:8080/a%20b/c?x=1&y=2#frag%21"}}'),
    "map[fragment:frag! host:example.com:8080 hostname:example.com opaque: path:/a b/c " +
      "query:x=1&y=2 scheme:https userinfo:u:p]",
  );
  assert.equal(
    run(
      '{{urlJoin (dict "scheme" "http" "host" "h:80" "path" "/a b" "query" "q=1" "fragment" "f g")}}',
    ),
    "http://h:80/a%20b?q=1#f%20g",
  );
  assert.equal(run('{{urlJoin (urlParse "mailto:x@y.z")}}'), "mailto:x@y.z");
  assert.throws(
    () => run('{{urlParse "http://a/%zz"}}'),
    /unable to parse url: parse "http:\/\/a\/%zz": invalid URL escape "%zz"/,
  );
});
