// A real OpenID provider for Waymark's sign-in tests: panva's certified
// `oidc-provider` (npm), on loopback, with one client and one signing key.
//
//   node scripts/oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
//
// It prints "ready" once it listens. The test says who signs in next with
// `POST /__test` and a JSON body:
//   {"account": {"sub", "email", "email_verified", "name"}, "tamper": null}
// The login and consent screens are answered at once for that account (the
// test is the person at the browser). `tamper` makes the next ID token one
// that the provider did not mean for Waymark, signed with the provider's
// own key, as an attacker holding another client's token would present it:
//   "audience": issued to another client;  "expired": its time has passed.
// Everything else (discovery, PKCE, the code, the token endpoint, the
// client's authentication, the keys, userinfo) is oidc-provider's own.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kid = randomUUID();
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

let next = { account: null, tamper: null };
const accounts = new Map();

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomUUID()] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const a = accounts.get(id);
    if (!a) return undefined;
    return { accountId: id, async claims() { return { ...a, sub: id }; } };
  },
  // The test's client is first-party: its scopes are granted without asking.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

function tampered(idToken, how) {
  const [h, p] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  if (how === 'audience') claims.aud = 'another-client';
  if (how === 'expired') {
    claims.iat -= 7200;
    claims.exp = claims.iat + 600;
  }
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

provider.use(async (ctx, nextMiddleware) => {
  if (ctx.method === 'POST' && ctx.path === '/__test') {
    const chunks = [];
    for await (const c of ctx.req) chunks.push(c);
    next = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    if (next.account) accounts.set(next.account.sub, next.account);
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login' || !next.account) {
      ctx.status = 400;
      ctx.body = `the test harness cannot answer the ${details.prompt.name} prompt`;
      return;
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, {
      login: { accountId: next.account.sub },
    }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(to);
    return;
  }
  await nextMiddleware();
  if (ctx.path === '/token' && next.tamper && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token, next.tamper) };
    next.tamper = null;
  }
});

// The test may stop reading once it has seen "ready"; what oidc-provider
// prints later must not stop it.
process.stdout.on('error', () => {});

createServer(provider.callback()).listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
