import assert from "node:assert/strict";
import { certificateNames } from "../../../filters/x509_name.ts";
import { peerCertificatesFromNode } from "../../../filters/peer_certificate.ts";

// A client certificate whose subject has every field CertExtractor reads,
// two of some, and UTF8String and PrintableString values.
const PEM = `-----BEGIN CERTIFICATE-----
MIICOzCCAeCgAwIBAgIUDOTD4uSGwB+Q5kue2ijyBDmAlkwwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdGNhMB4XDTI2MTIwNjE1MzQ1MVoXDTI2MTIwODE1MzQ1
MVowgcQxCzAJBgNVBAYTAkRFMQ8wDQYDVQQIDAZCYXllcm4xETAPBgNVBAcMCE3D
vG5jaGVuMRIwEAYDVQQJDAlNYWluIFN0IDExDjAMBgNVBBEMBTgwMzMxMRAwDgYD
VQQKDAdPcmcgT25lMRAwDgYDVQQKDAdPcmcgVHdvMQ8wDQYDVQQLDAZVbml0IEEx
DzANBgNVBAsMBlVuaXQgQjEOMAwGA1UEBRMFU04tNDIxFzAVBgNVBAMMDkrDvHJn
ZW4gQ2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEvMEDQfQNm/djo9Qn
blRNnLtjit2R/TsfDdVGClxXna9vy56363/ur0jCH2DdACERplPNqr24WGj7mX3i
6mZjnqNiMGAwCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcDAjAdBgNVHQ4E
FgQUn5UQuPI5ldJ3MZrXYxCBMO0Ex/EwHwYDVR0jBBgwFoAUxvaAoKkfV1TUTTDp
WdtfZ7PDz7UwCgYIKoZIzj0EAwIDSQAwRgIhANnPnthR5aNP0fRxGOzxCIw/6CgC
U4KjHj4/ViXFx1iZAiEA0E0f2AXr00bgm6Zd5n9s7irb2525rv/KsBDUsdKJUe4=
-----END CERTIFICATE-----`;
const DER = Uint8Array.fromBase64(PEM.replace(/-----[A-Z ]+-----|\s/g, ""));

const SUBJECT = {
  Country: ["DE"],
  Province: ["Bayern"],
  Locality: ["München"],
  StreetAddress: ["Main St 1"],
  PostalCode: ["80331"],
  Organization: ["Org One", "Org Two"],
  OrganizationalUnit: ["Unit A", "Unit B"],
  SerialNumber: ["SN-42"],
  CommonName: ["Jürgen Client"],
};

Deno.test("certificateNames reads every pkix.Name field of subject and issuer", () => {
  assert.deepEqual(certificateNames(DER), { subject: SUBJECT, issuer: { CommonName: ["testca"] } });
});

Deno.test("certificateNames refuses what is not a certificate", () => {
  assert.throws(() => certificateNames(new Uint8Array([0x30, 0x05, 0x02])), RangeError);
  assert.throws(() => certificateNames(new Uint8Array([0x04, 0x00])), RangeError);
});

Deno.test("peerCertificatesFromNode reads names from the DER, with fields node:tls leaves out", () => {
  // The runtime's node:tls names lack street, postalCode and serialNumber.
  const leaf = {
    subject: { C: "DE", ST: "Bayern", L: "München", CN: "Jürgen Client" },
    issuer: { CN: "testca" },
    raw: DER,
  };
  assert.deepEqual(peerCertificatesFromNode(leaf)[0].subject, SUBJECT);
  // Without DER it can read, the runtime's names stand.
  assert.deepEqual(peerCertificatesFromNode({ ...leaf, raw: new Uint8Array(3) })[0].subject, {
    Country: ["DE"],
    Province: ["Bayern"],
    Locality: ["München"],
    CommonName: ["Jürgen Client"],
  });
});
