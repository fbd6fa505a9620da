package importer

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/activityd/activityd"
	"github.com/activityd/activityd/client"
)

// span is a period of time, from inclusive, to exclusive.
type span struct{ from, to time.Time }

// session is one or more consecutive events of a bucket for the same page or window, merged.
type session struct {
	key        string // the page URL, or the app and title; breakKey for an event left out
	start, end time.Time
	active     time.Duration // the time recorded, AFK cut out: at most end - start
	title      string        // the latest title
	url, app   string
}

// breakKey marks the place of an event left out (incognito, unreadable): no session merges across
// it, as no session merges across another page.
const breakKey = "\x00"

// bucketDone turns a bucket into activities, or keeps it until every afkstatus bucket is read
// (TrimAFK), or keeps the periods an afkstatus bucket marks away.
func (p *awReader) bucketDone(b *awBucket) error {
	switch b.typ {
	case awAFK:
		if !p.opt.TrimAFK {
			p.skipBucket(b, fmt.Sprintf("an afkstatus bucket (%d events) is used only to trim the sessions of other buckets (AWOptions.TrimAFK)", len(b.events)))
			return nil
		}
		spans := p.afk[b.hostname]
		for _, e := range b.events {
			if e.status == "afk" && e.dur > 0 {
				spans = append(spans, span{e.start, e.start.Add(e.dur)})
			}
		}
		p.afk[b.hostname] = spans
		return nil
	case awWeb, awWindow:
		if p.opt.TrimAFK {
			p.pending = append(p.pending, b)
			return nil
		}
		return p.activities(b)
	}
	what := fmt.Sprintf("bucket type %q", b.typ)
	if b.typ == "" {
		what = "a bucket without a type"
	}
	p.skipBucket(b, fmt.Sprintf("%s is not imported (%d events)", what, b.skipped+len(b.events)))
	return nil
}

// finish turns the buckets kept for TrimAFK into activities, once every afkstatus bucket is read.
func (p *awReader) finish() error {
	for host, spans := range p.afk {
		p.afk[host] = unionSpans(spans)
	}
	for _, b := range p.pending {
		if _, ok := p.afk[b.hostname]; !ok {
			p.rep.Untrimmed = append(p.rep.Untrimmed, b.id)
		}
		if err := p.activities(b); err != nil {
			return err
		}
	}
	return nil
}

// activities yields the activities of a web or window bucket: its events, sorted, trimmed of AFK
// time and merged into sessions, grouped by page (or app and title).
func (p *awReader) activities(b *awBucket) error {
	app := b.client
	if !activity.ValidAppID(app) {
		app = b.id
	}
	if !activity.ValidAppID(app) {
		p.skipBucket(b, "neither its client nor its id can be an app id (1 to 256 characters, no control characters)")
		return nil
	}
	web := b.typ == awWeb
	incognito := 0
	events := b.events
	slices.SortStableFunc(events, func(x, y awEvent) int { return x.start.Compare(y.start) })
	for i := range events {
		e := &events[i]
		why := ""
		switch {
		case web && e.incognito && !p.opt.Incognito:
			incognito++
		case web:
			if _, ok := address(e.url); !ok {
				why = "it has no URL that can be kept (empty, longer than 4096 bytes, or holding control characters)"
			}
		case e.app == "" && e.title == "":
			why = "it names neither an app nor a window title"
		}
		if why != "" {
			p.skipEvent(b, e.n, why)
		}
		if why != "" || web && e.incognito && !p.opt.Incognito {
			e.url, e.app, e.title = breakKey, "", ""
		}
	}
	switch {
	case incognito == 1:
		p.skipBucket(b, "1 event of incognito (private) tabs is skipped (AWOptions.Incognito imports them)")
	case incognito > 1:
		p.skipBucket(b, fmt.Sprintf("%d events of incognito (private) tabs are skipped (AWOptions.Incognito imports them)", incognito))
	}
	byKey := make(map[string][]session)
	for _, s := range p.sessions(events, b.hostname, web) {
		byKey[s.key] = append(byKey[s.key], s)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		return cmp.Or(byKey[x][0].start.Compare(byKey[y][0].start), strings.Compare(x, y))
	})
	for _, k := range keys {
		a := p.awActivity(b, app, web, byKey[k])
		_, history, err := emit(p.yield, p.countedSkip, a, fmt.Sprintf("%s: bucket %q, %s", p.name, b.id, describe(web, byKey[k][0])))
		p.rep.Activities++
		p.rep.HistoryItems += history
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *awReader) countedSkip(s Skip) {
	p.rep.Skipped++
	p.skip(s)
}

func describe(web bool, s session) string {
	if web {
		return "page " + s.url
	}
	return fmt.Sprintf("window %q of %q", s.title, s.app)
}

// sessions cuts the AFK periods of host out of events (with TrimAFK) and merges consecutive events of
// the same key by ActivityWatch's heartbeat rule: an event merges into the session before it when it
// has the same data and starts within [start of the session, end of the session + pulsetime]; the
// session then ends at the later of the two ends (aw-core aw_transform/heartbeats.py heartbeat_merge;
// aw-server-rust aw-transform/src/heartbeat.rs). Here "the same data" is the same key (the page's
// URL, or the app and window title), not every field: a tab whose title or audible flag changes is
// still one visit, shown with its latest title. A session never merges across an AFK period.
func (p *awReader) sessions(events []awEvent, host string, web bool) []session {
	afk := p.afk[host]
	var out []session
	for _, e := range events {
		key := e.url
		if !web && e.url != breakKey {
			key = e.app + "\x00" + e.title
		}
		pieces := []span{{e.start, e.start.Add(e.dur)}}
		if p.opt.TrimAFK && key != breakKey {
			pieces = trimSpans(pieces[0], afk)
			p.rep.AFKTrimmed += e.dur - spansLength(pieces)
		}
		for _, c := range pieces {
			if n := len(out); n > 0 && key != breakKey && out[n-1].key == key && !c.from.Before(out[n-1].start) &&
				!c.from.After(out[n-1].end.Add(p.opt.PulseTime)) && !overlapsAny(out[n-1].end, c.from, afk) {
				last := &out[n-1]
				last.end = maxTime(last.end, c.to)
				last.active = min(last.active+c.to.Sub(c.from), last.end.Sub(last.start))
				last.title = cmp.Or(e.title, last.title)
				p.rep.Merged++
				continue
			}
			out = append(out, session{key: key, start: c.from, end: c.to, active: c.to.Sub(c.from), title: e.title, url: e.url, app: e.app})
		}
	}
	return slices.DeleteFunc(out, func(s session) bool { return s.key == breakKey })
}

// awActivity maps the sessions of one page or window to an activity:
//
//	App                 the bucket's client ("aw-watcher-web-chrome", "aw-client-web",
//	                    "aw-watcher-window"), else its id
//	appActivityId       web: the URL, or "sha256:" and its hex digest when longer than the server keeps
//	                    (activity.MaxAppActivityID); window: "aw-window:" and the first 128 bits of the
//	                    SHA-256 of app, U+0000, title
//	activationUrl       web: the URL; window: "activitywatch:window?app=" and the app (there is no
//	                    address to go back to a window; this one names it, and goes nowhere)
//	appDisplayName      web: the browser named by the bucket's client or id; window: the app
//	visualElements      displayText: the latest title, else the URL or the app
//	activitySourceHost  AWOptions.SourceHost (DefaultAWSourceHost)
//	createdDateTime     the first session's start; lastModifiedDateTime: the last session's end
//
// Each session is a history item: started at its start, last active at its end, active for the time
// recorded in it, its id the name-based GUID of the bucket id, the key and the start.
func (p *awReader) awActivity(b *awBucket, app string, web bool, ss []session) client.Activity {
	last := ss[len(ss)-1]
	title := ""
	for _, s := range ss {
		title = cmp.Or(s.title, title)
	}
	a := client.Activity{App: app, ActivitySourceHost: p.opt.SourceHost, CreatedDateTime: at(ss[0].start)}
	if web {
		a.AppActivityID = appActivityID(last.url, "")
		a.ActivationURL = last.url
		a.AppDisplayName = optional(browserName(b.client + " " + b.id))
		a.VisualElements.DisplayText = text(cmp.Or(title, last.url))
	} else {
		sum := sha256.Sum256([]byte(last.app + "\x00" + last.title))
		a.AppActivityID = "aw-window:" + hex.EncodeToString(sum[:16])
		a.ActivationURL = "activitywatch:window"
		if u, ok := address(a.ActivationURL + "?app=" + url.QueryEscape(last.app)); ok && last.app != "" {
			a.ActivationURL = u
		}
		a.AppDisplayName = optional(text(last.app))
		a.VisualElements.DisplayText = text(cmp.Or(title, last.app))
	}
	end := ss[0].end
	for _, s := range ss {
		end = maxTime(end, s.end)
		secs := int(min(s.active.Round(time.Second)/time.Second, 1<<31-1))
		g := nameGUID(importNamespace, b.id+"\n"+s.key+"\n"+s.start.Format(time.RFC3339Nano))
		a.HistoryItems = append(a.HistoryItems, client.HistoryItem{ID: guidString(g[:]), StartedDateTime: s.start,
			LastActiveDateTime: at(s.end), ActiveDurationSeconds: &secs, CreatedDateTime: at(s.start), LastModifiedDateTime: at(s.end)})
	}
	a.LastModifiedDateTime = at(end)
	return a
}

// browserName returns the browser a web bucket's client or id names ("aw-watcher-web-firefox_host"),
// or "" when it names none.
func browserName(s string) string {
	s = strings.ToLower(s)
	for _, b := range []struct{ word, name string }{
		{"chromium", "Chromium"}, {"chrome", "Google Chrome"}, {"firefox", "Firefox"}, {"edge", "Microsoft Edge"},
		{"brave", "Brave"}, {"opera", "Opera"}, {"vivaldi", "Vivaldi"}, {"safari", "Safari"},
	} {
		if strings.Contains(s, b.word) {
			return b.name
		}
	}
	return ""
}

// unionSpans sorts spans and merges those that overlap or touch.
func unionSpans(spans []span) []span {
	slices.SortFunc(spans, func(x, y span) int { return x.from.Compare(y.from) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && !s.from.After(out[n-1].to) {
			out[n-1].to = maxTime(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// trimSpans returns what is left of s once the sorted, disjoint periods cut are taken out of it. An
// instant (from = to) is kept unless a period holds it.
func trimSpans(s span, cut []span) []span {
	i := sort.Search(len(cut), func(i int) bool { return cut[i].to.After(s.from) })
	if s.from.Equal(s.to) {
		if i < len(cut) && !cut[i].from.After(s.from) {
			return nil
		}
		return []span{s}
	}
	var out []span
	from := s.from
	for ; i < len(cut) && cut[i].from.Before(s.to); i++ {
		if cut[i].from.After(from) {
			out = append(out, span{from, cut[i].from})
		}
		from = maxTime(from, cut[i].to)
	}
	if from.Before(s.to) {
		out = append(out, span{from, s.to})
	}
	return out
}

// overlapsAny reports whether some period of cut (sorted, disjoint) lies partly between from and to.
func overlapsAny(from, to time.Time, cut []span) bool {
	if !to.After(from) {
		return false
	}
	i := sort.Search(len(cut), func(i int) bool { return cut[i].to.After(from) })
	return i < len(cut) && cut[i].from.Before(to)
}

func spansLength(spans []span) time.Duration {
	var d time.Duration
	for _, s := range spans {
		d += s.to.Sub(s.from)
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
