// activityd timeline: local dates, the browser's time zone, endless scrolling and live updates.
// The page works without this file; it only adds to it.
"use strict";
(() => {
  const main = document.getElementById("main");

  // The browser's time zone becomes the page's, once, unless the person chose one.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && !document.cookie.split("; ").some((c) => c.startsWith("tz="))) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    if (main && main.dataset.zone && main.dataset.zone !== zone) location.reload();
  }
  const zoneForm = document.getElementById("zone-form");
  if (zoneForm) {
    zoneForm.addEventListener("submit", () => {
      const tz = zoneForm.elements.tz.value.trim();
      document.cookie = "tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    });
  }

  // Dates in the person's locale.
  const formats = {
    day: { weekday: "long", year: "numeric", month: "long", day: "numeric", timeZone: "UTC" },
    time: { hour: "numeric", minute: "2-digit" },
    datetime: { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
  };
  const localize = (root) => {
    for (const t of root.querySelectorAll("time[data-format]")) {
      const f = formats[t.dataset.format];
      const d = new Date(t.dataset.format === "day" ? t.dateTime + "T00:00:00Z" : t.dateTime);
      try {
        if (f && !isNaN(d)) t.textContent = d.toLocaleString(undefined, t.dataset.format === "day" ? f : { ...f, timeZone: main?.dataset.zone || undefined });
      } catch { /* a zone the browser does not know: the server's text stays */ }
    }
  };
  localize(document);

  const days = document.getElementById("days");
  if (!main || !days) return;

  // Endless scrolling: the "Older activities" link loads the next screen in place.
  let loading = false;
  const more = new IntersectionObserver(async (entries) => {
    const link = document.getElementById("older");
    if (!entries.some((e) => e.isIntersecting) || !link || loading) return;
    loading = true;
    try {
      const res = await fetch(link.href + "&fragment=1", { credentials: "same-origin" });
      if (!res.ok) return;
      const tmp = document.createElement("div");
      tmp.innerHTML = await res.text(); // our own server-rendered, escaped HTML
      link.closest(".more").remove();
      for (const section of tmp.querySelectorAll(".day")) {
        const same = days.querySelector(`.day[data-day="${section.dataset.day}"] .cards`);
        if (same) same.append(...section.querySelector(".cards").children);
        else days.append(section);
      }
      const next = tmp.querySelector(".more");
      if (next) { days.append(next); more.observe(next); }
      localize(days);
    } finally { loading = false; }
  }, { rootMargin: "600px" });
  const older = document.querySelector(".more");
  if (older) more.observe(older);

  // Live: the first, unfiltered screen follows the person's changes as they commit.
  if (main.dataset.first !== "true" || !main.dataset.position || !window.EventSource) return;
  const source = new EventSource("/timeline/events?after=" + encodeURIComponent(main.dataset.position) +
    "&tz=" + encodeURIComponent(main.dataset.zone));
  source.addEventListener("reload", () => location.reload());
  source.onmessage = (m) => {
    const e = JSON.parse(m.data);
    const old = document.getElementById("a-" + e.id);
    if (old) {
      const list = old.parentElement;
      old.remove();
      if (!list.children.length) list.closest(".day").remove();
    }
    if (e.kind === "deleted" || !e.html) return;
    let section = days.querySelector(`.day[data-day="${e.day}"]`);
    if (!section) {
      const first = days.querySelector(".day");
      if (first && first.dataset.day > e.day) return; // older than the screen: it shows when scrolled to
      section = document.createElement("section");
      section.className = "day";
      section.dataset.day = e.day;
      const h = document.createElement("h2");
      const t = document.createElement("time");
      t.dateTime = e.day; t.dataset.format = "day"; t.textContent = e.day;
      h.append(t); section.append(h);
      const ol = document.createElement("ol"); ol.className = "cards"; section.append(ol);
      days.prepend(section);
      document.querySelector(".empty")?.remove();
    }
    const tmp = document.createElement("template");
    tmp.innerHTML = e.html.trim(); // drawn by the server with html/template, like the page
    const card = tmp.content.firstElementChild;
    card.classList.add("fresh");
    section.querySelector(".cards").prepend(card);
    localize(section);
  };
})();
