// A third-party relying party against Gatekeep's internal issuer: openid-client and jose.
//
//   node interop.mjs <issuer-url> <client-id> <client-secret> <redirect-uri> <audience>
//
// Prints one JSON object per line on stdout. {"authorize": url} asks the driver (the
// pytest test) to take the user through login and consent and to answer the callback
// URL on stdin; the last line is {"ok": true, ...} or {"ok": false, "error": ...}.
import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import * as client from 'openid-client'
import * as jose from 'jose'

const [issuerUrl, clientId, clientSecret, redirectUri, audience] = process.argv.slice(2)
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const say = (message) => process.stdout.write(JSON.stringify(message) + '\n')

function check(condition, message) {
  if (!condition) throw new Error(message)
}

async function main() {
  const results = {}
  // Discovery; plain http is the loopback test gateway only.
  const config = await client.discovery(
    new URL(issuerUrl),
    clientId,
    { id_token_signed_response_alg: undefined },
    client.ClientSecretBasic(clientSecret),
    { execute: [client.allowInsecureRequests] },
  )
  client.enableNonRepudiationChecks(config) // verify ID token signatures against the JWKS
  const metadata = config.serverMetadata()
  check(metadata.issuer === issuerUrl, `issuer ${metadata.issuer}`)
  check(metadata.scopes_supported.includes('openid'), 'openid not in scopes_supported')
  check(metadata.code_challenge_methods_supported.includes('S256'), 'no S256')
  results.discovery = true

  const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri))

  // client_credentials, the access token verified with jose.
  const machine = await client.clientCredentialsGrant(config, { scope: 'pets:read' })
  const { payload: machineClaims, protectedHeader } = await jose.jwtVerify(
    machine.access_token,
    jwks,
    { issuer: metadata.issuer, audience, typ: 'at+jwt' },
  )
  check(machineClaims.client_id === clientId, 'client_id claim')
  results.client_credentials = { alg: protectedHeader.alg, sub: machineClaims.sub }

  // Authorization code + PKCE + nonce; the driver plays the user.
  const codeVerifier = client.randomPKCECodeVerifier()
  const nonce = client.randomNonce()
  const state = client.randomState()
  const authorizeUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email pets:read',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    nonce,
    state,
  })
  say({ authorize: authorizeUrl.href })
  const { value: callback } = await lines.next()
  const tokens = await client.authorizationCodeGrant(config, new URL(callback.trim()), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  })
  const idClaims = tokens.claims()
  check(idClaims.nonce === nonce, 'nonce')
  check(idClaims.aud === clientId || idClaims.aud.includes(clientId), 'aud')
  const digest = createHash('sha256').update(tokens.access_token).digest()
  const atHash = digest.subarray(0, digest.length / 2).toString('base64url')
  check(idClaims.at_hash === atHash, `at_hash ${idClaims.at_hash} != ${atHash}`)
  // And the ID token verifies with jose against the same JWKS as the access tokens.
  const { protectedHeader: idHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: metadata.issuer,
    audience: clientId,
  })
  results.id_token = { alg: idHeader.alg, sub: idClaims.sub, auth_time: idClaims.auth_time }

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
  results.userinfo = userinfo

  const active = await client.tokenIntrospection(config, tokens.access_token)
  check(active.active === true, 'introspection: not active')
  check(active.sub === idClaims.sub, 'introspection: sub')
  results.introspection = { active: active.active, scope: active.scope }

  await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' })
  const revoked = await client.tokenIntrospection(config, tokens.access_token)
  check(revoked.active === false, 'introspection after revocation: still active')
  await client.tokenRevocation(config, 'never-issued')
  results.revocation = true

  say({ ok: true, ...results })
}

main()
  .catch((error) => say({ ok: false, error: `${error.name}: ${error.message}`, cause: String(error.cause ?? '') }))
  .finally(() => process.exit(0))
