import assert from "node:assert/strict";
import { SpecReader } from "../../../filters/spec.ts";
import { IPFilter, isPublicIP, readIPFilter } from "../../../server/httpserver/ipfilter.ts";

function problems(allowIPs: string[]): readonly string[] {
  const r = SpecReader.root({ allowIPs });
  readIPFilter(r);
  return r.problems;
}

Deno.test("ipFilter takes a CIDR's prefix length as decimal digits only, as Go's ParseCIDR", () => {
  assert.deepEqual(
    problems(["10.0.0.0/8", "10.0.0.0/08", "10.0.0.0/0008", "2001:db8::/32", "192.0.2.1"]),
    [],
  );
  const bad = ["10.0.0.0/", "10.0.0.0/0x8", "10.0.0.0/1e1", "10.0.0.0/8.0", "10.0.0.0/+8"];
  bad.push("10.0.0.0/-0", "10.0.0.0/ 8", "2001:db8::/", "10.0.0.0/33");
  bad.push("fe80::1%eth0", "fe80::%1/64");
  assert.deepEqual(
    problems(bad),
    bad.map((ip, i) => `allowIPs[${i}]: "${ip}" is not an IP address or CIDR`),
  );
});

Deno.test("ipFilter allows an address its allow list holds and no other by default-block", () => {
  const filter = new IPFilter({ blockByDefault: true, allowIPs: ["10.0.0.0/8", "2001:db8::/32"] });
  assert.equal(filter.allow("10.1.2.3"), true);
  assert.equal(filter.allow("2001:db8::1"), true);
  assert.equal(filter.allow("8.8.8.8"), false);
  assert.equal(filter.allow("garbage"), false);
});

Deno.test("ipFilter refuses IPv4 parts with leading zeros, as Go's ParseIP does", () => {
  assert.deepEqual(problems(["010.1.1.1", "10.01.1.1/8", "::ffff:010.1.1.1"]), [
    'allowIPs[0]: "010.1.1.1" is not an IP address or CIDR',
    'allowIPs[1]: "10.01.1.1/8" is not an IP address or CIDR',
    'allowIPs[2]: "::ffff:010.1.1.1" is not an IP address or CIDR',
  ]);
  const filter = new IPFilter({ blockByDefault: true, allowIPs: ["10.0.0.0/8"] });
  // A client's X-Real-Ip of 010.1.1.1 is no address: the default applies.
  assert.equal(filter.allow("010.1.1.1"), false);
  assert.equal(filter.allow("10.0.0.0"), true);
});

Deno.test("ipFilter takes an IPv4-mapped address as its IPv4 address however it is spelled", () => {
  const filter = new IPFilter({ blockIPs: ["203.0.113.0/24", "2001:db8::/32"] });
  for (const ip of ["::ffff:cb00:7105", "0:0:0:0:0:ffff:cb00:7105", "0::ffff:203.0.113.5"]) {
    assert.equal(filter.allow(ip), false, ip);
  }
  assert.equal(filter.allow("2001:db8::203.0.113.5"), false);
  assert.equal(filter.allow("::ffff:c633:6407"), true);
  // An IPv4-compatible (not mapped) address is IPv6, as in Go.
  assert.equal(filter.allow("::203.0.113.5"), true);
  // A mapped CIDR counts its prefix over 128 bits, whatever the spelling of its address.
  assert.deepEqual(
    problems(["::ffff:cb00:7100/120", "::ffff:203.0.113.0/120", "::ffff:0:0/96"]),
    [],
  );
  const mapped = new IPFilter({ blockIPs: ["::ffff:cb00:7100/120"] });
  assert.equal(mapped.allow("203.0.113.9"), false);
  assert.equal(mapped.allow("203.0.114.9"), true);
  assert.deepEqual(problems(["1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::ffff:1.2.3.256"]).length, 3);
});

Deno.test("an IPv4-mapped X-Forwarded-For entry in hex is private when its IPv4 address is", () => {
  assert.equal(isPublicIP("::ffff:a00:1"), false);
  assert.equal(isPublicIP("::ffff:7f00:1"), false);
  assert.equal(isPublicIP("::ffff:cb00:7105"), true);
});

Deno.test("ipFilter with allowIPs admits no other address, blockByDefault or not, as Easegress", () => {
  const filter = new IPFilter({ allowIPs: ["10.0.0.0/8"], blockIPs: ["10.9.0.0/16"] });
  assert.equal(filter.allow("10.1.2.3"), true);
  assert.equal(filter.allow("8.8.8.8"), false);
  assert.equal(filter.allow("2001:db8::1"), false);
  // In both lists: the default (allow, as blockByDefault is false).
  assert.equal(filter.allow("10.9.0.1"), true);
  // An address that does not parse gets the default, as in Easegress.
  assert.equal(filter.allow("garbage"), true);
  const blockOnly = new IPFilter({ blockIPs: ["10.9.0.0/16"] });
  assert.equal(blockOnly.allow("8.8.8.8"), true);
  assert.equal(blockOnly.allow("10.9.0.1"), false);
});
