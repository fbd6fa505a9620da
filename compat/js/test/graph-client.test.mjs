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
