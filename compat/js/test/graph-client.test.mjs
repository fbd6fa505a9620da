// The Microsoft Graph JavaScript client, unchanged, against a real activityd over TLS, called the way
// the Graph docs' JavaScript snippets call it.
//
// Run by run.sh, which builds activityd and sets NODE_EXTRA_CA_CERTS to the local CA of
// "activityd serve --tls self-signed" (Node reads that variable only at start-up).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  Client, PageIterator, BatchRequestContent, BatchResponseContent, GraphError,
} from "@microsoft/microsoft-graph-client";
import * as oauth from "oauth4webapi";

const bin = process.env.ACTIVITYD_BIN;
const data = process.env.ACTIVITYD_DATA;
let server;
let baseUrl;

before(async () => {
  assert.ok(bin && data, "ACTIVITYD_BIN and ACTIVITYD_DATA must be set (see run.sh)");
  server = spawn(bin, ["serve", "--tls", "self-signed", "--data", data, "--addr", "127.0.0.1:0"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const port = await new Promise((resolve, reject) => {
    let log = "";
    server.stderr.on("data", (chunk) => {
      log += chunk;
      const m = /msg=listening addr=127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(m[1]);
    });
    server.on("exit", (code) => reject(new Error(`activityd exited (${code}): ${log}`)));
    setTimeout(() => reject(new Error(`activityd did not listen: ${log}`)), 20000).unref();
  });
  // The client sends tokens only over https, to Graph or to the hosts listed in customHosts.
  baseUrl = `https://localhost:${port}`;
});

after(() => server?.kill("SIGTERM"));

function token(user, app) {
  return execFileSync(bin, ["token", "--data", data, "--user", user, "--app", app]).toString().trim();
}

function clientFor(accessToken) {
  return Client.init({
    baseUrl,
    customHosts: new Set(["localhost"]),
    authProvider: (done) => done(null, accessToken),
  });
}

// The activity of the docs' "Create or replace activity" JavaScript snippet, as printed there:
// addImageQuery as a string, server-set properties, 7-digit fractions with offsets.
function docsActivity(appActivityId) {
  return {
    appActivityId,
    activitySourceHost: "https://www.contoso.com",
    userTimezone: "Africa/Casablanca",
    appDisplayName: "Contoso, Ltd.",
    activationUrl: "https://www.contoso.com/article?id=12345",
    contentUrl: "https://www.contoso.com/article?id=12345",
    fallbackUrl: "https://www.contoso.com/article?id=12345",
    contentInfo: {
      "@context": "https://schema.org",
      "@type": "Article",
      author: "Jennifer Booth",
      name: "How to Tie a Reef Knot",
    },
    visualElements: {
      attribution: {
        iconUrl: "https://www.contoso.com/icon",
        alternateText: "Contoso, Ltd.",
        addImageQuery: "false",
      },
      description: "How to Tie a Reef Knot. A step-by-step visual guide to the art of nautical knot-tying.",
      backgroundColor: "#ff0000",
      displayText: "Contoso How-To: How to Tie a Reef Knot",
      content: {
        $schema: "https://adaptivecards.io/schemas/adaptive-card.json",
        type: "AdaptiveCard",
        body: [{ type: "TextBlock", text: "Contoso MainPage" }],
      },
    },
  };
}

test("the docs' snippets: put, deep insert, top, paging, recent, history items, delete", async () => {
  const client = clientFor(token("alice", "notes"));
  const appActivityId = "/article?12345";

  const created = await client.api("/me/activities/" + encodeURIComponent(appActivityId)).version("v1.0").put(docsActivity(appActivityId));
  assert.equal(created.appActivityId, appActivityId);
  assert.equal(created.status, "active");
  assert.equal(created.visualElements.attribution.addImageQuery, false);
  assert.deepEqual(created.contentInfo, docsActivity("").contentInfo);
  const replaced = await client.api("/me/activities/" + encodeURIComponent(appActivityId)).version("v1.0").put(docsActivity(appActivityId));
  assert.equal(replaced.id, created.id);
  assert.equal(replaced.status, "updated");

  // Deep insert, as in the docs' second example.
  const deep = docsActivity("deep-insert");
  deep.historyItems = [{
    userTimezone: "Africa/Casablanca",
    startedDateTime: "2018-02-26T20:54:04.3457274+00:00",
    lastActiveDateTime: "2018-02-26T20:54:24.3457274+00:00",
  }];
  const inserted = await client.api("/me/activities/deep-insert").version("v1.0").put(deep);
  assert.equal(inserted.historyItems.length, 1);
  assert.equal(inserted.historyItems[0].activeDurationSeconds, 20);

  for (let i = 0; i < 5; i++) {
    await client.api("/me/activities/" + encodeURIComponent(`doc ${i}`)).version("v1.0").put(docsActivity(`doc ${i}`));
  }
  const top = await client.api("/me/activities").version("v1.0").top(3).get();
  assert.equal(top.value.length, 3);
  assert.equal(top.value[0].appActivityId, "doc 4");
  assert.ok(!("@odata.nextLink" in top), "$top=3 in one page leaves no nextLink");

  // Page by page with the client's PageIterator; the last page has no nextLink.
  const first = await client.api("/me/activities").version("v1.0").header("Prefer", "odata.maxpagesize=2").get();
  assert.equal(first.value.length, 2);
  const seen = [];
  await new PageIterator(client, first, (a) => { seen.push(a.appActivityId); return true; }).iterate();
  assert.equal(seen.length, 7);
  assert.deepEqual(seen.slice(0, 2), ["doc 4", "doc 3"]);

  // A session of engagement, then recent.
  const guid = randomUUID();
  const item = await client.api(`/me/activities/${created.id}/historyItems/${guid}`).version("v1.0").put({
    startedDateTime: "2015-02-11T20:54:04.3457274+00:00",
    lastActiveDateTime: "2015-02-11T20:54:24.3457274+00:00",
    userTimezone: "Africa/Casablanca",
  });
  assert.equal(item.id, guid);
  assert.equal(item.activeDurationSeconds, 20);
  const recent = await client.api("/me/activities/recent").version("v1.0").get();
  assert.deepEqual(recent.value.map((a) => a.appActivityId), [appActivityId, "deep-insert"]);

  await client.api(`/me/activities/${created.id}/historyItems/${guid}`).version("v1.0").delete();
  await client.api(`/me/activities/${created.id}`).version("v1.0").delete();
  await assert.rejects(client.api(`/me/activities/${created.id}`).version("v1.0").get(), (err) => {
    assert.ok(err instanceof GraphError, `a GraphError, not ${err}`);
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, "itemNotFound");
    assert.ok(err.message.length > 0);
    return true;
  });
});

test("GraphError on 401, and isolation between two users", async () => {
  await assert.rejects(clientFor("not-a-token").api("/me/activities").get(), (err) => {
    assert.ok(err instanceof GraphError);
    assert.equal(err.statusCode, 401);
    assert.equal(err.code, "InvalidAuthenticationToken");
    return true;
  });
  const alice = clientFor(token("alice2", "notes"));
  const bob = clientFor(token("bob", "notes"));
  const mine = await alice.api("/me/activities/private").put(docsActivity("private"));
  await assert.rejects(bob.api(`/me/activities/${mine.id}`).get(), (err) => err.statusCode === 404);
  const bobs = await bob.api("/me/activities").get();
  assert.deepEqual(bobs.value, []);
});

test("BatchRequestContent: a PUT, a GET that depends on it, a failing GET", async () => {
  const client = clientFor(token("batcher", "notes"));
  const put = new Request(`${baseUrl}/v1.0/me/activities/${encodeURIComponent("batched")}`, {
    method: "PUT",
    body: JSON.stringify(docsActivity("batched")),
    headers: { "Content-Type": "application/json" },
  });
  const batch = new BatchRequestContent([
    { id: "1", request: put },
    { id: "2", request: new Request(`${baseUrl}/v1.0/me/activities`), dependsOn: ["1"] },
    { id: "3", request: new Request(`${baseUrl}/v1.0/me/activities/no-such-activity`), dependsOn: ["1"] },
  ]);
  const response = await client.api("/$batch").version("v1.0").post(await batch.getContent());
  const results = new BatchResponseContent(response);
  assert.equal(results.getResponseById("1").status, 201);
  const list = await results.getResponseById("2").json();
  assert.equal(list.value[0].appActivityId, "batched");
  const missing = results.getResponseById("3");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "itemNotFound");
});

// Sign-in: tokens from activityd's OpenID provider, not from "activityd token". oauth4webapi (a small,
// dependency-free, OpenID-certified client) makes the authorization request with PKCE, checks the
// callback, redeems the code (checking the ID token's claims) and refreshes; the person's part, the
// sign-in and consent pages, is done with fetch as a browser does it (cookies, no redirects followed).

// person is someone at a browser: a cookie jar in front of fetch.
function person() {
  const cookies = new Map();
  const go = async (url, init = {}) => {
    const res = await fetch(new URL(url, baseUrl), {
      ...init, redirect: "manual",
      headers: { ...init.headers, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      cookies.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return { res, page: await res.text(), location: res.headers.get("location") };
  };
  const field = (page, name) => {
    const m = new RegExp(`name="${name}" value="([^"]+)"`).exec(page);
    assert.ok(m, `no field ${name} in the page: ${page.slice(0, 1500)}`);
    return m[1];
  };
  const post = (url, form) => go(url, { method: "POST", body: new URLSearchParams(form) });
  return {
    // signIn opens start, which sends the person to /signin, fills in the form, and returns the next page.
    async signIn(start, name, password) {
      const first = await go(start);
      assert.match(first.location ?? "", /^\/signin\?/, `${start} should send the person to sign in`);
      const form = await go(first.location);
      const next = await post("/signin", {
        ...Object.fromEntries(new URL(first.location, baseUrl).searchParams),
        csrf: field(form.page, "csrf"), name, password,
      });
      assert.equal(next.res.status, 303, `sign-in: ${next.page.slice(0, 500)}`);
      return next.location;
    },
    // allow answers the consent page at url with Allow and returns where the app is sent.
    async allow(url, ...mustSay) {
      const consent = await go(url);
      for (const s of mustSay) assert.ok(consent.page.includes(s), `the consent page does not say ${s}`);
      const answered = await post("/consent", { csrf: field(consent.page, "csrf"), request: field(consent.page, "request"), answer: "approve" });
      assert.equal(answered.res.status, 303);
      return (await go(answered.location)).location; // the provider's callback sends it on to the app
    },
  };
}

test("the client with a token of the authorization code grant with PKCE, refreshed", async () => {
  execFileSync(bin, ["app", "add", "js-notes", "--name", "JS Notes", "--redirect-uri", "http://127.0.0.1/callback", "--data", data]);
  execFileSync(bin, ["user", "add", "js-fern", "--password-stdin", "--data", data], { input: "correct horse battery\n" });

  // The issuer is the tokens' iss, https://activityd.local; its metadata is served here.
  const as = await oauth.processDiscoveryResponse(new URL("https://activityd.local"),
    await oauth.discoveryRequest(new URL(baseUrl), { algorithm: "oidc" }));
  assert.equal(as.authorization_endpoint, `${baseUrl}/oauth2/authorize`);
  const client = { client_id: "js-notes" };
  const redirectUri = "http://127.0.0.1:47614/callback"; // a loopback URI: any port (RFC 8252)
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const authorize = new URL(as.authorization_endpoint);
  authorize.search = new URLSearchParams({
    client_id: client.client_id, redirect_uri: redirectUri, response_type: "code", state, nonce,
    scope: "openid offline_access https://graph.microsoft.com/UserActivity.ReadWrite.CreatedByApp",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });

  const browser = person();
  const consent = await browser.signIn(authorize, "js-fern", "correct horse battery");
  const callback = new URL(await browser.allow(consent, "JS Notes", "UserActivity.ReadWrite.CreatedByApp"));
  assert.equal(callback.origin + callback.pathname, "http://127.0.0.1:47614/callback");
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier), { expectedNonce: nonce });
  assert.equal(tokens.token_type, "bearer");
  assert.ok(tokens.refresh_token, "a refresh token for offline_access");
  // oauth4webapi has checked the ID token's iss, aud (which includes the client_id), azp, nonce and
  // times; it is no access token: the API refuses it.
  assert.equal(oauth.getValidatedIdTokenClaims(tokens).azp, client.client_id);
  await assert.rejects(clientFor(tokens.id_token).api("/me/activities").get(),
    (err) => err instanceof GraphError && [401, 403].includes(err.statusCode));

  let accessToken = tokens.access_token;
  const graph = Client.init({ baseUrl, customHosts: new Set(["localhost"]), authProvider: (done) => done(null, accessToken) });
  const created = await graph.api("/me/activities/" + encodeURIComponent("/signed-in?1")).put(docsActivity("/signed-in?1"));
  assert.equal(created.status, "active");
  await graph.api("/me/activities/second").put(docsActivity("second"));
  let list = await graph.api("/me/activities").get();
  assert.deepEqual(list.value.map((a) => a.appActivityId).sort(), ["/signed-in?1", "second"]);
  // The same person and app as "activityd token --user js-fern --app js-notes" (oid, azp).
  const same = await clientFor(token("js-fern", "js-notes")).api("/me/activities").get();
  assert.equal(same.value.length, 2);

  // Refreshed: a new access token (and refresh token) that the client goes on with.
  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token));
  assert.notEqual(refreshed.access_token, accessToken);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  accessToken = refreshed.access_token;
  for (const a of list.value) await graph.api(`/me/activities/${a.id}`).delete();
  list = await graph.api("/me/activities").get();
  assert.deepEqual(list.value, []);

  // Signed out (RFC 7009): the refresh token no longer refreshes.
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), refreshed.refresh_token));
  await assert.rejects(async () => oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token)),
  (err) => err instanceof oauth.ResponseBodyError && err.error === "invalid_grant");
});
