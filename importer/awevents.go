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

// span is a period of time in Unix nanoseconds, from inclusive, to exclusive.
type span struct{ from, to int64 }

// session is one or more consecutive events of a bucket for the same page or window, merged. Its
// strings are indices into awReader.strs.
type session struct {
	key             int64 // the page's URL, or the app and title (awKey); breakKey for an event left out
	start, end      int64 // Unix nanoseconds
	active          int64 // the nanoseconds recorded, AFK cut out: at most end - start
	title, url, app int32 // title: the latest
}

// breakKey marks the place of an event left out (incognito, unreadable): no session merges across
// it, as no session merges across another page.
const breakKey = -1

// awKey is the key of an event: its URL for a page; its app and title for a window.
func awKey(e *awEvent, web bool) int64 {
	if web {
		return int64(e.url)
	}
	return int64(e.app)<<32 | int64(e.title)
}

// bucketDone turns a bucket into activities, or keeps it until every afkstatus bucket is read
// (TrimAFK), or keeps the periods an afkstatus bucket marks away.
func (p *awReader) bucketDone(b *awBucket) error {
	switch b.typ {
	case awAFK:
		if !p.opt.TrimAFK {
			p.leaveOut(b, fmt.Sprintf("an afkstatus bucket (%d events) is used only to trim the sessions of other buckets (the TrimAFK option, --trim-afk)", len(b.events)))
			return nil
		}
		spans := p.afk[b.hostname]
		for _, e := range b.events {
			if p.strs[e.status] == "afk" && e.dur > 0 {
				spans = append(spans, span{e.start, e.start + e.dur})
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
	p.leaveOut(b, fmt.Sprintf("%s is not imported (%d events)", what, b.skipped+len(b.events)))
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
// time and merged into sessions, grouped by page (or app and title), in the order of their first
// session.
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
	keys := p.eventKeys(b, web)
	ss := p.sessions(b.events, keys, b.hostname)
	b.events = nil
	// Sessions by key, then start; then the keys in the order of their first session.
	slices.SortStableFunc(ss, func(x, y session) int { return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.start, y.start)) })
	var groups [][]session
	for lo := 0; lo < len(ss); {
		hi := lo + 1
		for hi < len(ss) && ss[hi].key == ss[lo].key {
			hi++
		}
		groups = append(groups, ss[lo:hi])
		lo = hi
	}
	slices.SortFunc(groups, func(x, y []session) int {
		return cmp.Or(cmp.Compare(x[0].start, y[0].start), strings.Compare(p.describe(web, x[0]), p.describe(web, y[0])))
	})
	for _, g := range groups {
		a := p.awActivity(b, app, web, g)
		_, history, err := emit(p.yield, p.countedSkip, a, fmt.Sprintf("%s: bucket %q, %s", p.name, b.id, p.describe(web, g[0])), 0)
		p.rep.Activities++
		p.rep.HistoryItems += history
		if err != nil {
			return err
		}
	}
	return nil
}

// eventKeys sorts the bucket's events by start and returns the key of each (awKey), breakKey for
// the events left out: incognito tabs (unless AWOptions.Incognito), pages without a URL that can be
// kept, windows with neither app nor title. It skips them, the incognito ones with one Skip.
func (p *awReader) eventKeys(b *awBucket, web bool) []int64 {
	events := b.events
	slices.SortStableFunc(events, func(x, y awEvent) int { return cmp.Compare(x.start, y.start) })
	keys := make([]int64, len(events))
	incognito := 0
	for i := range events {
		e := &events[i]
		keys[i] = awKey(e, web)
		why := ""
		switch {
		case web && e.incognito && !p.opt.Incognito:
			incognito++
			keys[i] = breakKey
		case web:
			if _, ok := address(p.strs[e.url]); !ok {
				why = "it has no URL that can be kept (empty, longer than 4096 bytes, or holding control characters)"
			}
		case e.app == 0 && e.title == 0:
			why = "it names neither an app nor a window title"
		}
		if why != "" {
			p.skipEvent(b, int(e.n), why)
			keys[i] = breakKey
		}
	}
	switch {
	case incognito == 1:
		p.leaveOut(b, "1 event of incognito (private) tabs is left out (the Incognito option, --incognito, imports them)")
	case incognito > 1:
		p.leaveOut(b, fmt.Sprintf("%d events of incognito (private) tabs are left out (the Incognito option, --incognito, imports them)", incognito))
	}
	return keys
}

func (p *awReader) countedSkip(s Skip) {
	p.rep.Skipped++
	p.skip(s)
}

// describe names a session's page or window, for messages.
func (p *awReader) describe(web bool, s session) string {
	if web {
		return "page " + p.strs[s.url]
	}
	return fmt.Sprintf("window %q of %q", p.strs[s.title], p.strs[s.app])
}

// sessions cuts the AFK periods of host out of events (with TrimAFK) and merges consecutive events of
// the same key by ActivityWatch's heartbeat rule: an event merges into the session before it when it
// has the same data and starts within [start of the session, end of the session + pulsetime]; the
// session then ends at the later of the two ends (aw-core aw_transform/heartbeats.py heartbeat_merge;
// aw-server-rust aw-transform/src/heartbeat.rs). Here "the same data" is the same key (the page's
// URL, or the app and window title), not every field: a tab whose title or audible flag changes is
// still one visit, shown with its latest title. A session never merges across an AFK period.
func (p *awReader) sessions(events []awEvent, keys []int64, host string) []session {
	afk := p.afk[host]
	pulse := int64(p.opt.PulseTime)
	var out []session
	for i, e := range events {
		key := keys[i]
		pieces := []span{{e.start, e.start + e.dur}}
		if p.opt.TrimAFK && key != breakKey {
			pieces = trimSpans(pieces[0], afk)
			p.rep.AFKTrimmed += time.Duration(e.dur - spansLength(pieces))
		}
		for _, c := range pieces {
			if n := len(out); n > 0 && key != breakKey && out[n-1].key == key && c.from >= out[n-1].start &&
				c.from <= out[n-1].end+pulse && !overlapsAny(out[n-1].end, c.from, afk) {
				last := &out[n-1]
				last.end = max(last.end, c.to)
				last.active = min(last.active+c.to-c.from, last.end-last.start)
				if e.title != 0 {
					last.title = e.title
				}
				p.rep.Merged++
				continue
			}
			out = append(out, session{key: key, start: c.from, end: c.to, active: c.to - c.from, title: e.title, url: e.url, app: e.app})
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
	first, page, appName := ss[0], p.strs[ss[0].url], p.strs[ss[0].app]
	title, end := "", first.end
	for _, s := range ss {
		title = cmp.Or(p.strs[s.title], title)
		end = max(end, s.end)
	}
	a := client.Activity{App: app, ActivitySourceHost: p.opt.SourceHost, CreatedDateTime: at(time.Unix(0, first.start).UTC()),
		LastModifiedDateTime: at(time.Unix(0, end).UTC())}
	key := page
	if web {
		a.AppActivityID = appActivityID(page, "")
		a.ActivationURL = page
		a.AppDisplayName = optional(browserName(b.client + " " + b.id))
		a.VisualElements.DisplayText = firstText(title, page)
	} else {
		key = appName + "\x00" + p.strs[first.title]
		sum := sha256.Sum256([]byte(key))
		a.AppActivityID = "aw-window:" + hex.EncodeToString(sum[:16])
		a.ActivationURL = "activitywatch:window"
		if u, ok := address(a.ActivationURL + "?app=" + url.QueryEscape(appName)); ok && appName != "" {
			a.ActivationURL = u
		}
		a.AppDisplayName = optional(text(appName))
		a.VisualElements.DisplayText = firstText(title, appName, app)
	}
	a.HistoryItems = make([]client.HistoryItem, 0, len(ss))
	for _, s := range ss {
		start, end := time.Unix(0, s.start).UTC(), time.Unix(0, s.end).UTC()
		secs := int(min(time.Duration(s.active).Round(time.Second)/time.Second, 1<<31-1))
		g := nameGUID(importNamespace, b.id+"\n"+key+"\n"+start.Format(time.RFC3339Nano))
		a.HistoryItems = append(a.HistoryItems, client.HistoryItem{ID: guidString(g[:]), StartedDateTime: start,
			LastActiveDateTime: at(end), ActiveDurationSeconds: &secs, CreatedDateTime: at(start), LastModifiedDateTime: at(end)})
	}
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
	slices.SortFunc(spans, func(x, y span) int { return cmp.Compare(x.from, y.from) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// trimSpans returns what is left of s once the sorted, disjoint periods cut are taken out of it. An
// instant (from = to) is kept unless a period holds it.
func trimSpans(s span, cut []span) []span {
	i := sort.Search(len(cut), func(i int) bool { return cut[i].to > s.from })
	if s.from == s.to {
		if i < len(cut) && cut[i].from <= s.from {
			return nil
		}
		return []span{s}
	}
	var out []span
	from := s.from
	for ; i < len(cut) && cut[i].from < s.to; i++ {
		if cut[i].from > from {
			out = append(out, span{from, cut[i].from})
		}
		from = max(from, cut[i].to)
	}
	if from < s.to {
		out = append(out, span{from, s.to})
	}
	return out
}

// overlapsAny reports whether some period of cut (sorted, disjoint) lies partly between from and to.
func overlapsAny(from, to int64, cut []span) bool {
	if to <= from {
		return false
	}
	i := sort.Search(len(cut), func(i int) bool { return cut[i].to > from })
	return i < len(cut) && cut[i].from < to
}

func spansLength(spans []span) int64 {
	var d int64
	for _, s := range spans {
		d += s.to - s.from
	}
	return d
}
