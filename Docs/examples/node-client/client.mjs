// A Gatehouse client in Node.js (18 or later) with the built-in fetch and no package: the client credentials
// grant (RFC 6749 §4.4) with HTTP Basic, a token kept until shortly before it expires, and a bearer request.
//
//   GATEHOUSE=http://127.0.0.1:8080 CLIENT_ID=… CLIENT_SECRET=… node Docs/examples/node-client/client.mjs

const base = process.env.GATEHOUSE;
const clientId = process.env.CLIENT_ID;
const clientSecret = process.env.CLIENT_SECRET;

let cached = null; // {accessToken, expiresAt}

async function accessToken() {
  // Renew 30 s early so a token never expires on the way to the server.
  if (cached && Date.now() < cached.expiresAt - 30_000) return cached.accessToken;
  // RFC 6749 §2.3.1: id and secret are form-encoded before the Basic encoding.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64");
  const response = await fetch(`${base}/api/v1/oauth/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "metrics" }),
  });
  const body = await response.json();
  if (!response.ok) {
    // RFC 6749 §5.2: {"error": "invalid_client", "error_description": "…"}; 429 and 503 carry Retry-After.
    throw new Error(`token: ${response.status} ${body.error}: ${body.error_description ?? ""}`);
  }
  cached = { accessToken: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
  console.log(`token: type ${body.token_type}, expires in ${body.expires_in}s, scope ${body.scope}`);
  return cached.accessToken;
}

async function get(path) {
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${await accessToken()}` } });
  if (!response.ok) {
    // 401/403 say why in WWW-Authenticate (RFC 6750 §3).
    throw new Error(`${path}: ${response.status} ${response.headers.get("www-authenticate") ?? ""}`);
  }
  return response.text();
}

try {
  const first = await get("/api/v1/metrics");
  await get("/api/v1/metrics"); // the same token again: no second token request
  const samples = first.split("\n").filter((line) => line && !line.startsWith("#")).length;
  console.log(`metrics: 200, ${samples} samples`);
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
