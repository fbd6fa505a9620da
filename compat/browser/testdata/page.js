// Runs in the page: the Graph JavaScript client's browser bundle (the global MicrosoftGraph) calls
// activityd, an API of another origin, the way a web app would. The outcome goes to window.result
// (read by the Go test) and to the page (for the screenshot); window.done says it is there.
const config = JSON.parse(document.getElementById("config").textContent);

const client = MicrosoftGraph.Client.init({
  baseUrl: config.baseUrl,
  // The client sends the token only over https, to Graph or to these hosts.
  customHosts: new Set([config.host]),
  authProvider: (done) => done(null, config.token),
});

function activity(appActivityId) {
  return {
    appActivityId,
    activitySourceHost: location.origin,
    activationUrl: location.origin + "/open?key=" + encodeURIComponent(appActivityId),
    visualElements: { displayText: "Written from " + location.origin + ": " + appActivityId },
  };
}

function put(key) {
  return client.api("/me/activities/" + encodeURIComponent(key)).version("v1.0").put(activity(key));
}

// create writes the activities, a history item to the first, then lists them.
async function create() {
  const created = [];
  for (const key of config.keys) {
    const a = await put(key);
    created.push({ id: a.id, status: a.status });
  }
  const item = await client.api(`/me/activities/${created[0].id}/historyItems`).version("v1.0").post({
    startedDateTime: "2025-01-02T10:00:00Z",
    lastActiveDateTime: "2025-01-02T10:00:20Z",
  });
  const list = await client.api("/me/activities").version("v1.0").expand("historyItems").count(true).get();
  // A header that only Access-Control-Expose-Headers lets a page read.
  const res = await fetch(config.baseUrl + "/v1.0/me/activities?$top=1", { headers: { Authorization: "Bearer " + config.token } });
  return {
    created,
    historyItem: { id: item.id, activeDurationSeconds: item.activeDurationSeconds },
    count: list["@odata.count"],
    listed: list.value.map((a) => ({
      id: a.id,
      appActivityId: a.appActivityId,
      displayText: a.visualElements.displayText,
      historyItems: a.historyItems.map((h) => h.id),
    })),
    requestId: res.headers.get("request-id"),
  };
}

// refused tries, from an origin the server does not list, what create does; the browser must stop it.
async function refused() {
  const failure = (e) => `${e.name}: ${e.message}` + (e.statusCode !== undefined ? ` (statusCode ${e.statusCode})` : "");
  // Without CORS (mode no-cors) the page reaches the server, so TLS and the network are not the cause.
  const opaque = await fetch(config.baseUrl + "/v1.0/me/activities", { mode: "no-cors" });
  const out = { noCors: opaque.type };
  try {
    await fetch(config.baseUrl + "/v1.0/me/activities", { headers: { Authorization: "Bearer " + config.token } });
    out.fetch = "succeeded";
  } catch (e) {
    out.fetch = failure(e);
  }
  try {
    await put(config.keys[0]);
    out.put = "succeeded";
  } catch (e) {
    out.put = failure(e);
  }
  return out;
}

function show(result) {
  const out = document.getElementById("out");
  if (result.listed) {
    const rows = result.listed.map((a) =>
      `<tr><td><code>${esc(a.appActivityId)}</code></td><td>${esc(a.displayText)}</td><td>${a.historyItems.length}</td><td><code>${esc(a.id.slice(0, 12))}…</code></td></tr>`);
    out.innerHTML = `<p class="ok">Created ${result.created.length}, one history item of ${result.historyItem.activeDurationSeconds} s; ` +
      `GET /me/activities: @odata.count ${result.count}, request-id readable: ${result.requestId ? "yes" : "no"}</p>` +
      `<table><tr><th>appActivityId</th><th>displayText</th><th>history items</th><th>id</th></tr>${rows.join("")}</table>`;
  } else {
    out.innerHTML = `<p class="fail">Refused by the browser, as it should be:</p><ul>` +
      `<li>fetch with a bearer token: <code>${esc(result.fetch)}</code></li>` +
      `<li>Graph client PUT: <code>${esc(result.put)}</code></li>` +
      `<li>the same server without CORS (no-cors): response type <code>${esc(result.noCors)}</code></li></ul>`;
  }
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

document.getElementById("origin").textContent = location.origin;
document.getElementById("api").textContent = config.baseUrl;
(config.mode === "refused" ? refused() : create()).then(
  (result) => {
    window.result = result;
    document.getElementById("status").textContent = "done";
    show(result);
  },
  (e) => {
    window.result = { error: `${e.name}: ${e.message}` + (e.statusCode !== undefined ? ` (statusCode ${e.statusCode}, code ${e.code})` : "") };
    document.getElementById("status").textContent = "failed: " + window.result.error;
    document.getElementById("status").className = "fail";
  },
).finally(() => { window.done = true; });
