// Verifies Gatehouse access tokens with panva's `jose` (Debian's node-jose, the same library as npm's `jose`), the
// way Docs/verifying-tokens.md's Node snippet does: RFC 8414 metadata, then createRemoteJWKSet on its jwks_uri,
// then jwtVerify with issuer, audience, typ (RFC 9068 §4), an algorithm allow-list and 5 s of clock tolerance.
//
//   node verify_tokens.mjs [--audience AUD] [--algorithms A,B] [--doc MODULE] ISSUER TOKEN...
//     prints "node-jose <n>: ok <alg> <kid> <client_id>" or "node-jose <n>: refused <code> <claim>" per token,
//     then "node-jose tampered: refused" (the first token with its signature altered); with --doc, also
//     "node-doc <n>: ok <client_id>" from the `verify` that MODULE (the doc's snippet) exports. Exits 1 unless
//     every token is ok and the tampered one refused.
//
// `jose` is imported by its bare name as in the doc; the test links it from /usr/share/nodejs/jose into a
// node_modules directory beside a copy of this file, because Node resolves ES module imports from node_modules
// only (NODE_PATH applies to require()).
import { createRemoteJWKSet, jwtVerify } from "jose";
import { pathToFileURL } from "node:url";

const arguments_ = process.argv.slice(2);
let audience = "gatehouse";
let algorithms = ["RS256", "ES256", "EdDSA"];
let doc;
while (arguments_[0]?.startsWith("--")) {
  const [flag, value] = arguments_.splice(0, 2);
  if (flag === "--audience") audience = value;
  else if (flag === "--algorithms") algorithms = value.split(",");
  else if (flag === "--doc") doc = await import(pathToFileURL(value).href);
  else { console.log(`node-jose: unknown flag ${flag}`); process.exit(2); }
}
const [issuer, ...tokens] = arguments_;

const response = await fetch(issuer + "/.well-known/oauth-authorization-server");
const metadata = response.ok ? await response.json() : {};
if (metadata.issuer !== issuer || typeof metadata.jwks_uri !== "string") {
  console.log(`node-jose metadata: FAILED ${response.status} ${JSON.stringify(metadata)}`);
  process.exit(1);
}
const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), { cacheMaxAge: 300_000 });

async function verify(token) {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer, audience, typ: "at+jwt", algorithms, clockTolerance: 5,
  });
  return `${protectedHeader.alg} ${protectedHeader.kid} ${payload.client_id}`;
}

let failed = false;
for (const [index, token] of tokens.entries()) {
  try {
    console.log(`node-jose ${index + 1}: ok ${await verify(token)}`);
  } catch (error) {
    failed = true;
    console.log(`node-jose ${index + 1}: refused ${error.code ?? error.name} ${error.claim ?? ""} ${error.message}`);
  }
  if (doc) {
    try {
      console.log(`node-doc ${index + 1}: ok ${(await doc.verify(token)).client_id}`);
    } catch (error) {
      failed = true;
      console.log(`node-doc ${index + 1}: refused ${error.code ?? error.name} ${error.claim ?? ""} ${error.message}`);
    }
  }
}
if (tokens.length > 0) {
  // Alter the second-to-last character: the last one of a base64url signature may carry only padding bits.
  const chars = [...tokens[0]];
  chars[chars.length - 2] = chars[chars.length - 2] === "A" ? "B" : "A";
  try {
    await verify(chars.join(""));
    failed = true;
    console.log("node-jose tampered: ACCEPTED");
  } catch (error) {
    console.log(`node-jose tampered: refused ${error.code ?? error.name}`);
  }
}
process.exit(failed ? 1 : 0);
