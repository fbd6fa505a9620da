package adaptivecard

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// realistic is a card as a Graph timeline app would write it.
const realistic = `{
  "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
  "type": "AdaptiveCard",
  "version": "1.5",
  "lang": "en-US",
  "backgroundImage": "https://example.com/bg.png",
  "speak": "<speak>Quarterly report</speak>",
  "body": [
    {"type": "TextBlock", "text": "Quarterly report.docx", "size": "Large", "weight": "Bolder", "wrap": true, "maxLines": 2},
    {"type": "Image", "url": "https://example.com/thumb.png", "altText": "Thumbnail", "size": "Medium"},
    {"type": "ColumnSet", "columns": [
      {"type": "Column", "width": "auto", "items": [
        {"type": "Image", "url": "https://example.com/avatar.png", "size": "Small", "style": "Person", "altText": "Ana"}]},
      {"type": "Column", "width": "stretch", "items": [
        {"type": "TextBlock", "text": "Edited by Ana", "isSubtle": true, "color": "Accent", "spacing": "None"}]}
    ]},
    {"type": "FactSet", "separator": true, "facts": [
      {"title": "App", "value": "Word"},
      {"title": "Modified", "value": "2 hours ago"}
    ]},
    {"type": "Input.Text", "id": "comment", "placeholder": "Comment"},
    {"type": "ActionSet", "actions": [
      {"type": "Action.OpenUrl", "title": "Open", "url": "https://example.com/doc?id=1&x=2"},
      {"type": "Action.OpenUrl", "title": "Open in Word", "url": "ms-word:ofe|u|https://example.com/doc.docx"}
    ]}
  ],
  "actions": [
    {"type": "Action.Submit", "title": "Send"},
    {"type": "Action.OpenUrl", "title": "Web", "url": "https://example.com/web"}
  ]
}`

func TestRenderRealistic(t *testing.T) {
	out, ok := Render([]byte(realistic))
	if !ok {
		t.Fatal("Render: false")
	}
	s := string(out)
	want := []string{ // in this order
		`<div class="ac-card" lang="en-US">`,
		`<div class="ac-text ac-text-large ac-text-bolder ac-text-wrap ac-text-lines-2" dir="auto">Quarterly report.docx</div>`,
		`<img class="ac-image ac-image-medium" src="https://example.com/thumb.png" alt="Thumbnail" loading="lazy" referrerpolicy="no-referrer" decoding="async">`,
		`<div class="ac-columns"><div class="ac-column ac-column-auto">`,
		`<img class="ac-image ac-image-small ac-image-person" src="https://example.com/avatar.png" alt="Ana"`,
		`<div class="ac-column ac-column-stretch"><div class="ac-text ac-text-accent ac-text-subtle ac-spacing-none" dir="auto">Edited by Ana</div></div></div>`,
		`<dl class="ac-facts ac-separator"><div class="ac-fact"><dt dir="auto">App</dt><dd dir="auto">Word</dd></div>`,
		`<div class="ac-fact"><dt dir="auto">Modified</dt><dd dir="auto">2 hours ago</dd></div></dl>`,
		`<div class="ac-actions"><a class="ac-action" href="https://example.com/doc?id=1&amp;x=2" rel="noopener noreferrer nofollow" target="_blank"><bdi>Open</bdi></a>`,
		`<a class="ac-action" href="ms-word:ofe%7cu%7chttps://example.com/doc.docx" rel="noopener noreferrer nofollow" target="_blank"><bdi>Open in Word</bdi></a> <bdi class="ac-action-target">ms-word:ofe|u|https://example.com/doc.docx</bdi></div>`,
		`<div class="ac-actions"><a class="ac-action" href="https://example.com/web" rel="noopener noreferrer nofollow" target="_blank"><bdi>Web</bdi></a></div>`,
		`</div>`,
	}
	rest := s
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks, in order,\n%s\noutput:\n%s", w, s)
		}
		rest = rest[i+len(w):]
	}
	if rest != "" {
		t.Errorf("trailing output %q", rest)
	}
	for _, absent := range []string{"bg.png", "speak", "Comment", "Send", "<input", "<button"} {
		if strings.Contains(s, absent) {
			t.Errorf("output holds %q:\n%s", absent, s)
		}
	}
	if p := problems(s); len(p) > 0 {
		t.Errorf("unsafe output: %v\n%s", p, s)
	}
}

func TestRenderElements(t *testing.T) {
	card := func(body string) string { return `{"type":"AdaptiveCard","body":[` + body + `]}` }
	tests := []struct {
		name, in string
		ok       bool
		has      []string
		hasNot   []string
	}{
		{"rich text", card(`{"type":"RichTextBlock","horizontalAlignment":"Center","inlines":["Hello ",{"type":"TextRun","text":"bold","weight":"Bolder"},{"type":"TextRun","text":" it","italic":true,"strikethrough":true,"underline":true}]}`),
			true, []string{`<div class="ac-richtext ac-align-center" dir="auto"><bdi class="ac-run">Hello </bdi><bdi class="ac-run"><strong>bold</strong></bdi><bdi class="ac-run ac-run-underline"><em><s> it</s></em></bdi></div>`}, nil},
		{"run link", card(`{"type":"RichTextBlock","inlines":[{"type":"TextRun","text":"site","selectAction":{"type":"Action.OpenUrl","url":"https://example.com/"}}]}`),
			true, []string{`<a class="ac-run-link" href="https://example.com/" rel="noopener noreferrer nofollow" target="_blank"><bdi class="ac-run">site</bdi></a>`}, nil},
		{"markdown is text", card(`{"type":"TextBlock","text":"**bold** _it_ [x](javascript:alert(1)) {{DATE(2017-02-14T06:08:39Z)}}"}`),
			true, []string{`>**bold** _it_ [x](javascript:alert(1)) {{DATE(2017-02-14T06:08:39Z)}}</div>`}, []string{"<strong>", "<em>", "<a "}},
		{"text classes", card(`{"type":"TextBlock","text":"t","size":"extraLarge","weight":"lighter","color":"attention","fontType":"Monospace","style":"heading","horizontalAlignment":"right","maxLines":11}`),
			true, []string{`class="ac-text ac-text-extralarge ac-text-lighter ac-text-attention ac-text-monospace ac-text-heading ac-align-right"`}, []string{"lines"}},
		{"bad enum values", card(`{"type":"TextBlock","text":"t","size":"\" onclick=\"x","color":"red; background:url(x)","maxLines":"3","spacing":"<b>"}`),
			true, []string{`<div class="ac-text" dir="auto">t</div>`}, nil},
		{"container style and select", card(`{"type":"Container","style":"emphasis","selectAction":{"type":"Action.OpenUrl","url":"https://example.com/c"},"items":[{"type":"TextBlock","text":"in"}]}`),
			true, []string{`<div class="ac-container ac-style-emphasis"><a class="ac-select" href="https://example.com/c" rel="noopener noreferrer nofollow" target="_blank"><div class="ac-text" dir="auto">in</div></a></div>`}, nil},
		{"no nested links", card(`{"type":"Container","selectAction":{"type":"Action.OpenUrl","url":"https://example.com/c"},"items":[{"type":"ActionSet","actions":[{"type":"Action.OpenUrl","title":"x","url":"https://example.com/x"}]}]}`),
			true, []string{`href="https://example.com/x"`}, []string{"ac-select", "example.com/c"}},
		{"select of other type", card(`{"type":"Image","url":"https://example.com/i.png","selectAction":{"type":"Action.Submit","data":"x"}}`),
			true, []string{`<img class="ac-image"`}, []string{"<a "}},
		{"image select custom scheme", card(`{"type":"Image","url":"https://example.com/i.png","selectAction":{"type":"Action.OpenUrl","url":"spotify:track:42"}}`),
			true, []string{`<a class="ac-select" href="spotify:track:42" rel="noopener noreferrer nofollow" target="_blank"><img class="ac-image" src="https://example.com/i.png" alt="" loading="lazy" referrerpolicy="no-referrer" decoding="async"></a> <bdi class="ac-action-target">spotify:track:42</bdi>`}, nil},
		{"image non-http dropped", card(`{"type":"Image","url":"spotify:track:42"},{"type":"Image","url":"data:image/png;base64,AAAA"},{"type":"TextBlock","text":"t"}`),
			true, []string{"ac-text"}, []string{"<img", "spotify", "data:"}},
		{"image userinfo removed", card(`{"type":"Image","url":"https://trusted.example@evil.example/i.png"}`),
			true, []string{`src="https://evil.example/i.png"`}, []string{"trusted"}},
		{"image set", card(`{"type":"ImageSet","imageSize":"small","images":[{"type":"Image","url":"https://example.com/1.png"},{"type":"Image","url":"https://example.com/2.png","size":"large"},{"type":"TextBlock","text":"no"}]}`),
			true, []string{`<div class="ac-imageset"><img class="ac-image ac-image-small" src="https://example.com/1.png"`, `<img class="ac-image ac-image-large" src="https://example.com/2.png"`}, []string{">no<"}},
		{"column weights", card(`{"type":"ColumnSet","columns":[{"width":1,"items":[{"type":"TextBlock","text":"a"}]},{"width":"3","items":[{"type":"TextBlock","text":"b"}]},{"width":"50px","items":[{"type":"TextBlock","text":"c"}]},{"type":"TextBlock","text":"not a column"}]}`),
			true, []string{`<div class="ac-column ac-column-span-3">`, `<div class="ac-column ac-column-span-9">`, `<div class="ac-column ac-column-auto">`}, []string{"not a column"}},
		{"fallback element", card(`{"type":"Media","sources":[{"url":"https://example.com/v.mp4"}],"fallback":{"type":"TextBlock","text":"video"}}`),
			true, []string{`>video</div>`}, []string{"v.mp4", "<video"}},
		{"fallback drop", card(`{"type":"Table","fallback":"drop"},{"type":"Unknown","text":"unknown text"},{"type":"TextBlock","text":"t"}`),
			true, []string{">t</div>"}, []string{"unknown text", "drop"}},
		{"input skipped, its fallback drawn", card(`{"type":"Input.Toggle","title":"Agree","fallback":{"type":"TextBlock","text":"open the app"}}`),
			true, []string{">open the app</div>"}, []string{"Agree", "<input"}},
		{"hidden element", card(`{"type":"TextBlock","text":"hidden","isVisible":false},{"type":"TextBlock","text":"shown"}`),
			true, []string{">shown<"}, []string{"hidden"}},
		{"actions", `{"type":"AdaptiveCard","body":[],"actions":[
			{"type":"Action.ShowCard","title":"Show","card":{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"inner"}]}},
			{"type":"Action.Execute","title":"Run","verb":"x"},
			{"type":"Action.ToggleVisibility","title":"Toggle"},
			{"type":"Action.Submit","title":"Sub","fallback":{"type":"Action.OpenUrl","title":"Instead","url":"https://example.com/i"}},
			{"type":"Action.OpenUrl","title":"Off","url":"https://example.com/off","isEnabled":false},
			{"type":"Action.OpenUrl","title":"Script","url":"javascript:alert(1)"},
			{"type":"Action.OpenUrl","url":"mailto:a@example.com"},
			{"type":"Action.OpenUrl","url":"javascript:alert(2)"}]}`,
			true, []string{`<bdi>Instead</bdi>`, `<span class="ac-action ac-action-disabled"><bdi>Off</bdi></span>`, `<span class="ac-action ac-action-disabled"><bdi>Script</bdi></span>`, `<a class="ac-action" href="mailto:a@example.com" rel="noopener noreferrer nofollow" target="_blank"><bdi>mailto:a@example.com</bdi></a></div>`},
			[]string{"Show", "inner", "Run", "Toggle", "Sub<", "alert", "example.com/off"}},
		{"rtl card", `{"type":"AdaptiveCard","rtl":true,"lang":"ar\" x=\"y","body":[{"type":"TextBlock","text":"مرحبا"}]}`,
			true, []string{`<div class="ac-card" dir="rtl">`}, []string{"lang"}},
		{"wrong types", card(`{"type":"TextBlock","text":5},{"type":"Container","items":"nope"},{"type":"ColumnSet","columns":3},{"type":"FactSet","facts":{"title":"x"}},{"type":"ActionSet","actions":"x"},{"type":"Image","url":7},{"type":"RichTextBlock","inlines":[1,null,true]},{"type":"TextBlock","text":"ok","size":7,"wrap":"yes","maxLines":"2"}`),
			true, []string{`<div class="ac-card"><div class="ac-text" dir="auto">ok</div></div>`}, nil},
		{"not drawable", card(`{"type":"Input.Text","id":"x"},{"type":"TextBlock","text":"   "},{"type":"Container","items":[]}`), false, nil, nil},
		{"no body", `{"type":"AdaptiveCard","version":"1.0"}`, false, nil, nil},
		{"type case", `{"type":"adaptivecard","body":[{"type":"TextBlock","text":"t"}]}`, false, nil, nil},
		{"trailing garbage", card(`{"type":"TextBlock","text":"t"}`) + `<script>`, false, nil, nil},
		{"BOM", "\ufeff" + card(`{"type":"TextBlock","text":"t"}`), true, []string{">t</div>"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := Render([]byte(tt.in))
			s := string(out)
			if ok != tt.ok || !ok && s != "" {
				t.Fatalf("Render = %q, %v; want ok %v", s, ok, tt.ok)
			}
			for _, h := range tt.has {
				if !strings.Contains(s, h) {
					t.Errorf("output lacks %q:\n%s", h, s)
				}
			}
			for _, h := range tt.hasNot {
				if strings.Contains(s, h) {
					t.Errorf("output holds %q:\n%s", h, s)
				}
			}
			if p := problems(s); len(p) > 0 {
				t.Errorf("unsafe output: %v\n%s", p, s)
			}
		})
	}
}

func TestVetURL(t *testing.T) {
	tests := []struct {
		in, want string // want "" when not clickable
		custom   bool
	}{
		{"https://example.com/a?b=c#d", "https://example.com/a?b=c#d", false},
		{"HTTP://Example.com/", "http://Example.com/", false},
		{"https://example.com/a b", "", false},
		{"https://user:pw@example.com/", "https://example.com/", false},
		{"ms-word:ofe|u|https://example.com/d.docx", "ms-word:ofe|u|https://example.com/d.docx", true},
		{"Spotify:track:1", "spotify:track:1", true},
		{"mailto:a@example.com", "mailto:a@example.com", true},
		{"http:alert(1)", "", false},
		{"https:///path", "", false},
		{`https://ex"ample.com/`, "", false},
		{"https://ex%41mple.com/", "", false},
		{"https://bücher.example/", "https://b%C3%BCcher.example/", false},
		{"https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/x", false},
		{"http://192.0.2.1/", "http://192.0.2.1/", false},
		{"//evil.example/", "", false},
		{"/relative", "", false},
		{"javascript:alert(1)", "", false},
		{"JaVaScRiPt:alert(1)", "", false},
		{" javascript:alert(1)", "", false},
		{"javascript :alert(1)", "", false},
		{"java\tscript:alert(1)", "", false},
		{"java\nscript:alert(1)", "", false},
		{"\x01javascript:alert(1)", "", false},
		{"\x00javascript:alert(1)", "", false},
		{"\u200bjavascript:alert(1)", "", false},
		{"\ufeffjavascript:alert(1)", "", false},
		{"javascript%3Aalert(1)", "", false},
		{"%6Aavascript:alert(1)", "", false},
		{"javascript&colon;alert(1)", "", false},
		{"&#106;avascript:alert(1)", "", false},
		{"javascript://%0Aalert(1)", "", false},
		{"vbscript:msgbox(1)", "", false},
		{"VBScript:msgbox(1)", "", false},
		{"data:text/html,<script>alert(1)</script>", "", false},
		{"data:text/html;base64,PHNjcmlwdD4=", "", false},
		{"file:///etc/passwd", "", false},
		{"blob:https://example.com/uuid", "", false},
		{"about:blank", "", false},
		{"view-source:https://example.com/", "", false},
		{"1abc:x", "", false},
		{"a_b:x", "", false},
		{"https://example.com/\u202egnp.exe", "", false},
		{strings.Repeat("a", MaxURLBytes-len("https://example.com/")+1) + "x", "", false},
	}
	for _, tt := range tests {
		got, custom, ok := vetURL(tt.in)
		if ok != (tt.want != "") || got != tt.want || ok && custom != tt.custom {
			t.Errorf("vetURL(%q) = %q, %v, %v; want %q, %v", tt.in, got, custom, ok, tt.want, tt.custom)
		}
	}
}

// payloads is the XSS corpus: each lands in every string slot of slotted.
var payloads = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`<svg/onload=alert(1)>`,
	`<img src="javascript:alert(1)">`,
	`<a href="javascript:alert(1)">x</a>`,
	`javascript:alert(1)`,
	`JaVaScRiPt:alert(1)`,
	` javascript:alert(1)`,
	"java\tscript:alert(1)",
	"java\nscript:alert(1)",
	"\x01javascript:alert(1)",
	"\x00javascript:alert(1)",
	"\ufeffjavascript:alert(1)",
	`javascript%3Aalert(1)`,
	`%6Aavascript:alert(1)`,
	`javascript&colon;alert(1)`,
	`&#106;avascript:alert(1)`,
	`javascript://%0Aalert(1)`,
	`data:text/html,<script>alert(1)</script>`,
	`data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==`,
	`DATA:image/svg+xml,<svg onload=alert(1)>`,
	`vbscript:msgbox(1)`,
	`file:///etc/passwd`,
	`blob:https://example.com/uuid`,
	`about:blank`,
	`view-source:https://example.com/`,
	`" onmouseover="alert(1)`,
	`' onfocus='alert(1)' autofocus='`,
	"` onmouseover=alert(1) `",
	`</style><script>alert(1)</script>`,
	`</div></dl></a><iframe src="javascript:alert(1)"></iframe>`,
	`<form action="javascript:alert(1)"><button>x</button></form>`,
	`<!-- --><![CDATA[ ]]>`,
	`expression(alert(1)); background:url(javascript:alert(1))`,
	"\u202egnp.exe",
	"\u202e\" onclick=\"alert(1)",
	`https://example.com/"><script>alert(1)</script>`,
	`https://example.com/' onerror='alert(1)`,
	`https://example.com/'onerror='alert(1)'`,
	`https://example.com/"onerror="alert(1)"`,
	"https://example.com/`onerror=alert(1)`",
	`https://ex"ample.com/`,
	`spotify:'x'"y"<z>`,
	`https://trusted.example@evil.example/`,
	`//evil.example/`,
	`spotify:"><script>alert(1)</script>`,
	`{{.}}{{template "card" .}}`,
	`Large`, `bolder`, `Action.OpenUrl`, `TextBlock`,
}

// slotted has a string in every slot the renderer reads, and some it must not draw.
const slotted = `{
  "type": "AdaptiveCard", "lang": "en", "fallbackText": "fb", "backgroundImage": "https://example.com/bg.png",
  "speak": "speak", "selectAction": {"type": "Action.OpenUrl", "url": "https://example.com/card"},
  "body": [
    {"type": "TextBlock", "text": "text", "size": "large", "weight": "bolder", "color": "good", "fontType": "monospace",
     "style": "heading", "horizontalAlignment": "center", "spacing": "small", "id": "id"},
    {"type": "RichTextBlock", "inlines": ["plain", {"type": "TextRun", "text": "run", "color": "accent",
     "selectAction": {"type": "Action.OpenUrl", "url": "https://example.com/run", "title": "t"}}]},
    {"type": "Image", "url": "https://example.com/i.png", "altText": "alt", "size": "small", "style": "person",
     "selectAction": {"type": "Action.OpenUrl", "url": "ms-app:open"}},
    {"type": "ImageSet", "imageSize": "medium", "images": [{"type": "Image", "url": "https://example.com/s.png", "altText": "salt"}]},
    {"type": "Container", "style": "emphasis", "selectAction": {"type": "Action.OpenUrl", "url": "https://example.com/box"},
     "items": [{"type": "TextBlock", "text": "boxed"}]},
    {"type": "ColumnSet", "columns": [
      {"type": "Column", "width": "auto", "style": "good", "items": [{"type": "TextBlock", "text": "c1"}]},
      {"type": "Column", "width": "2", "selectAction": {"type": "Action.OpenUrl", "url": "https://example.com/col"},
       "items": [{"type": "TextBlock", "text": "c2"}]}]},
    {"type": "FactSet", "facts": [{"title": "ft", "value": "fv"}]},
    {"type": "Unknown", "text": "unknown", "fallback": {"type": "TextBlock", "text": "fallback"}},
    {"type": "Input.Text", "placeholder": "ph", "value": "val"},
    {"type": "ActionSet", "actions": [
      {"type": "Action.OpenUrl", "title": "open", "url": "https://example.com/open"},
      {"type": "Action.OpenUrl", "title": "app", "url": "ms-word:ofe|u|https://example.com/d.docx"},
      {"type": "Action.Submit", "title": "submit", "data": "d"},
      {"type": "Action.ShowCard", "title": "show", "card": {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "inner"}]}}]}
  ],
  "actions": [{"type": "Action.OpenUrl", "title": "top", "url": "https://example.com/top"},
              {"type": "Action.Execute", "title": "exec", "fallback": {"type": "Action.OpenUrl", "title": "fb", "url": "https://example.com/fb"}}]
}`

// corpus returns the slotted card with each payload in each string slot, one at a time, and with each
// payload in all slots at once.
func corpus(t testing.TB) [][]byte {
	fresh := func() any {
		var v any
		if err := json.Unmarshal([]byte(slotted), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	nslots := len(slots(fresh(), nil))
	if nslots < 40 {
		t.Fatalf("slotted has %d string slots; want at least 40", nslots)
	}
	var out [][]byte
	marshal := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, p := range payloads {
		for i := range nslots {
			v := fresh()
			slots(v, nil)[i](p)
			marshal(v)
		}
		v := fresh()
		for _, set := range slots(v, nil) {
			set(p)
		}
		marshal(v)
	}
	return out
}

// slots returns a setter for each string leaf of v, in a fixed order.
func slots(v any, acc []func(string)) []func(string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, ok := x[k].(string); ok {
				acc = append(acc, func(s string) { x[k] = s })
			} else {
				acc = slots(x[k], acc)
			}
		}
	case []any:
		for i := range x {
			if _, ok := x[i].(string); ok {
				acc = append(acc, func(s string) { x[i] = s })
			} else {
				acc = slots(x[i], acc)
			}
		}
	}
	return acc
}

func TestRenderXSSCorpus(t *testing.T) {
	if len(payloads) < 30 {
		t.Fatalf("%d payloads; want at least 30", len(payloads))
	}
	drawn := 0
	for _, in := range corpus(t) {
		out, ok := Render(in)
		if !ok {
			if out != "" {
				t.Errorf("Render = %q, false", out)
			}
			continue
		}
		drawn++
		if p := problems(string(out)); len(p) > 0 {
			t.Errorf("unsafe output: %v\ninput:  %s\noutput: %s", p, in, out)
		}
		if txt := Text(in); len(txt) > MaxPlainTextBytes || !utf8.ValidString(txt) {
			t.Errorf("Text = %q", txt)
		}
	}
	if drawn == 0 {
		t.Fatal("no corpus card was drawn")
	}
	// The payloads really reach the output, escaped, so the checks above had something to check.
	out, _ := Render([]byte(`{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"\"><img src=x onerror=alert(1)>"}]}`))
	if !strings.Contains(string(out), "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("payload not escaped as expected: %s", out)
	}
}

// problems lists what makes out unsafe or malformed. It tokenises the output (html/template writes
// every attribute double-quoted and escapes <, >, " and ' inside values and text) and checks tags,
// attributes and URLs against allow lists.
func problems(out string) []string {
	var ps []string
	bad := func(f string, a ...any) { ps = append(ps, fmt.Sprintf(f, a...)) }
	lower := strings.ToLower(out)
	for _, s := range []string{"<script", "<iframe", "<form", "<style", "<svg", "<object", "<embed", "<input", "<button", "<!--", "<!"} {
		if strings.Contains(lower, s) {
			bad("holds %s", s)
		}
	}
	blanked := quotedRE.ReplaceAllString(out, `=""`)
	if onAttr.MatchString(blanked) {
		bad("an on* attribute: %s", onAttr.FindString(blanked))
	}
	tags := map[string]bool{"div": true, "span": true, "bdi": true, "a": true, "img": true, "dl": true, "dt": true, "dd": true, "strong": true, "em": true, "s": true}
	attrs := map[string]bool{"class": true, "dir": true, "lang": true, "href": true, "rel": true, "target": true, "src": true, "alt": true, "loading": true, "referrerpolicy": true, "decoding": true}
	type open struct {
		name     string
		isolates bool
	}
	var stack []open
	isolated := func() bool {
		for _, o := range stack {
			if o.isolates {
				return true
			}
		}
		return false
	}
	for rest := out; rest != ""; {
		lt := strings.IndexByte(rest, '<')
		text := rest
		if lt >= 0 {
			text = rest[:lt]
		}
		if strings.ContainsAny(text, `>"'`) {
			bad("unescaped character in text %q", text)
		}
		if strings.ContainsRune(text, '\u202e') && !isolated() {
			bad("U+202E outside <bdi> or dir: %q", text)
		}
		if lt < 0 {
			break
		}
		rest = rest[lt:]
		gt := strings.IndexByte(rest, '>')
		if gt < 0 {
			bad("unterminated tag %q", rest)
			break
		}
		tag := rest[1:gt]
		rest = rest[gt+1:]
		if name, ok := strings.CutPrefix(tag, "/"); ok {
			if len(stack) == 0 || stack[len(stack)-1].name != name {
				bad("</%s> closes nothing", name)
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		}
		m := tagRE.FindStringSubmatch(tag)
		if m == nil {
			bad("malformed tag <%s>", tag)
			continue
		}
		name := m[1]
		if !tags[name] {
			bad("tag <%s>", name)
		}
		got := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			k, v := a[1], a[2]
			if !attrs[k] || strings.HasPrefix(k, "on") {
				bad("attribute %s on <%s>", k, name)
			}
			// html/template escapes < > ' " & in values; a backtick inside double quotes is inert.
			if strings.ContainsAny(v, "<>'") {
				bad("unescaped character in %s=%q", k, v)
			}
			got[k] = html.UnescapeString(v)
		}
		if h, ok := got["href"]; ok {
			if name != "a" || got["rel"] != "noopener noreferrer nofollow" || got["target"] != "_blank" {
				bad("link <%s>", tag)
			}
			if why := unsafeHref(h); why != "" {
				bad("href %q: %s", h, why)
			}
		}
		if src, ok := got["src"]; ok {
			if name != "img" || !strings.HasPrefix(src, "https://") && !strings.HasPrefix(src, "http://") || strings.ContainsAny(src, " \t\n\"'") {
				bad("src %q", src)
			}
		}
		if name == "img" {
			if got["loading"] != "lazy" || got["referrerpolicy"] != "no-referrer" {
				bad("img without loading=lazy and referrerpolicy=no-referrer: <%s>", tag)
			}
			continue // void
		}
		stack = append(stack, open{name, name == "bdi" || got["dir"] != ""})
	}
	if len(stack) > 0 {
		bad("unclosed %v", stack)
	}
	return ps
}

var (
	quotedRE = regexp.MustCompile(`="[^"]*"`)
	onAttr   = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	tagRE    = regexp.MustCompile(`^([a-z]+)((?: [a-z-]+="[^"]*")*)$`)
	attrRE   = regexp.MustCompile(` ([a-z-]+)="([^"]*)"`)
)

// unsafeHref says why an href (already HTML-unescaped) is unsafe, or "".
func unsafeHref(h string) string {
	for _, v := range []string{h, pathUnescape(h)} {
		squeezed := strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f || r == 0xfeff || r == 0x200b {
				return -1
			}
			return r
		}, strings.ToLower(v))
		for _, s := range []string{"javascript:", "vbscript:", "livescript:", "data:", "file:", "blob:", "about:", "view-source:"} {
			if strings.HasPrefix(squeezed, s) {
				return "denied scheme"
			}
		}
	}
	if strings.ContainsAny(h, " \t\n\r\"'<>`") {
		return "whitespace or quote"
	}
	u, err := url.Parse(h)
	if err != nil {
		return err.Error()
	}
	if !schemeRE.MatchString(u.Scheme) { // the package's own pattern: ^[a-z][a-z0-9+.-]*$
		return "no or bad scheme"
	}
	if (u.Scheme == "http" || u.Scheme == "https") && (u.Host == "" || !strings.HasPrefix(h, u.Scheme+"://")) {
		return "http without host"
	}
	return ""
}

func pathUnescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// TestProblemsCatches keeps the checker honest: each sample must be reported.
func TestProblemsCatches(t *testing.T) {
	for _, s := range []string{
		`<script>alert(1)</script>`,
		`<div onclick="x">t</div>`,
		`<div class="a" onmouseover="x">t</div>`,
		`<img src="x" onerror="alert(1)" loading="lazy" referrerpolicy="no-referrer">`,
		`<a href="javascript:alert(1)" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<a href="JavaScript&#58;alert(1)" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<a href=" javascript:alert(1)" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<a href="data:text/html,x" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<a href="vbscript:x" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<a href="https://example.com/">x</a>`,
		`<a href="/relative" rel="noopener noreferrer nofollow" target="_blank">x</a>`,
		`<img src="data:image/png,x" loading="lazy" referrerpolicy="no-referrer">`,
		`<img src="javascript:x" loading="lazy" referrerpolicy="no-referrer">`,
		`<img src="https://example.com/">`,
		`<div style="color:red">t</div>`,
		`<div>"><b>t</b></div>`,
		`<div>` + "\u202e" + `t</div>`,
		`<div>t`,
		`<div>t</span>`,
		`<iframe></iframe>`,
	} {
		if len(problems(s)) == 0 {
			t.Errorf("problems(%q) found none", s)
		}
	}
	if p := problems(`<div class="ac-card"><div dir="auto">` + "\u202e" + `t</div><bdi>&lt;x&gt;</bdi></div>`); len(p) > 0 {
		t.Errorf("problems of safe HTML: %v", p)
	}
}

func TestRenderBrokenInput(t *testing.T) {
	nest := func(n int, open, leaf, closing string) string {
		return strings.Repeat(open, n) + leaf + strings.Repeat(closing, n)
	}
	deepContainers := nest(10000, `{"type":"Container","items":[`, `{"type":"TextBlock","text":"deep"}`, `]}`)
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not json", "<html>hi</html>"},
		{"half json", `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"t"}`},
		{"array", `[{"type":"AdaptiveCard"}]`},
		{"number", `42`},
		{"string", `"AdaptiveCard"`},
		{"null", `null`},
		{"type number", `{"type":1,"body":[]}`},
		{"body string", `{"type":"AdaptiveCard","body":"<script>"}`},
		{"10000 nested containers", `{"type":"AdaptiveCard","body":[` + deepContainers + `]}`},
		{"20000 nested arrays", `{"type":"AdaptiveCard","body":` + nest(20000, "[", "", "]") + `}`},
		{"1 MB string", `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"` + strings.Repeat("a", 1<<20) + `"}]}`},
		{"over the size limit", `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"t"}]}` + strings.Repeat(" ", MaxContentBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out, ok := Render([]byte(tt.in)); ok || out != "" {
				t.Errorf("Render = %.200q, %v; want \"\", false", out, ok)
			}
			if s := Text([]byte(tt.in)); s != "" {
				t.Errorf("Text = %.200q", s)
			}
		})
	}
}

func TestRenderLimits(t *testing.T) {
	card := func(body string) []byte { return []byte(`{"type":"AdaptiveCard","body":[` + body + `]}`) }
	repeat := func(n int, f func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = f(i)
		}
		return strings.Join(parts, ",")
	}

	t.Run("depth", func(t *testing.T) {
		// Each level is a Container holding a TextBlock and the next level.
		body := ""
		for i := 100; i >= 1; i-- {
			body = fmt.Sprintf(`{"type":"Container","items":[{"type":"TextBlock","text":"level %d"}%s]}`, i, map[bool]string{true: "", false: "," + body}[body == ""])
		}
		out, ok := Render(card(body))
		s := string(out)
		if !ok {
			t.Fatal("Render: false")
		}
		// Container at depth d holds the text "level d" at depth d+1: the last drawn is level MaxDepth-1.
		if !strings.Contains(s, fmt.Sprintf(">level %d<", MaxDepth-1)) || strings.Contains(s, fmt.Sprintf(">level %d<", MaxDepth)) {
			t.Errorf("depth cut not at %d:\n%s", MaxDepth, s)
		}
		if n := strings.Count(s, `class="ac-container"`); n != MaxDepth-1 {
			t.Errorf("%d containers drawn; want %d", n, MaxDepth-1)
		}
		if p := problems(s); len(p) > 0 {
			t.Error(p)
		}
	})

	t.Run("fallback chain", func(t *testing.T) {
		body := strings.Repeat(`{"type":"X","fallback":`, 2000) + `{"type":"TextBlock","text":"end"}` + strings.Repeat("}", 2000)
		if out, ok := Render(card(body)); ok || out != "" {
			t.Errorf("Render = %q, %v", out, ok)
		}
		body = strings.Repeat(`{"type":"X","fallback":`, 3) + `{"type":"TextBlock","text":"end"}` + strings.Repeat("}", 3)
		if out, _ := Render(card(body)); !strings.Contains(string(out), ">end<") {
			t.Errorf("short fallback chain not drawn: %q", out)
		}
	})

	t.Run("elements", func(t *testing.T) {
		out, ok := Render(card(repeat(MaxElements+100, func(i int) string { return fmt.Sprintf(`{"type":"TextBlock","text":"t%d"}`, i) })))
		if n := strings.Count(string(out), `class="ac-text"`); !ok || n != MaxElements {
			t.Errorf("%d texts drawn; want %d", n, MaxElements)
		}
		if !strings.Contains(string(out), fmt.Sprintf(">t%d<", MaxElements-1)) || strings.Contains(string(out), fmt.Sprintf(">t%d<", MaxElements)) {
			t.Error("not the first elements drawn")
		}
		// Containers count too.
		out, _ = Render(card(repeat(MaxElements, func(int) string { return `{"type":"Container","items":[{"type":"TextBlock","text":"x"}]}` })))
		if n := strings.Count(string(out), `class="ac-text"`) + strings.Count(string(out), `class="ac-container"`); n != MaxElements {
			t.Errorf("%d elements drawn; want %d", n, MaxElements)
		}
	})

	t.Run("text", func(t *testing.T) {
		long := strings.Repeat("é", 30000)
		out, _ := Render(card(`{"type":"TextBlock","text":"` + long + `"}`))
		want := ">" + strings.Repeat("é", MaxTextRunes-1) + "…<"
		if !strings.Contains(string(out), want) {
			t.Errorf("text not cut to %d runes: %d bytes", MaxTextRunes, len(out))
		}
	})

	t.Run("facts", func(t *testing.T) {
		out, _ := Render(card(`{"type":"FactSet","facts":[` + repeat(MaxFacts+10, func(i int) string { return fmt.Sprintf(`{"title":"k%d","value":"v"}`, i) }) + `]}`))
		if n := strings.Count(string(out), "<dt"); n != MaxFacts {
			t.Errorf("%d facts drawn; want %d", n, MaxFacts)
		}
	})

	t.Run("actions", func(t *testing.T) {
		acts := repeat(MaxActions+5, func(i int) string {
			return fmt.Sprintf(`{"type":"Action.OpenUrl","title":"a%d","url":"https://example.com/%d"}`, i, i)
		})
		out, _ := Render([]byte(`{"type":"AdaptiveCard","body":[{"type":"ActionSet","actions":[` + acts + `]}],"actions":[` + acts + `]}`))
		if n := strings.Count(string(out), `class="ac-action"`); n != 2*MaxActions {
			t.Errorf("%d actions drawn; want %d", n, 2*MaxActions)
		}
	})

	t.Run("long url", func(t *testing.T) {
		u := "https://example.com/" + strings.Repeat("a", MaxURLBytes)
		out, _ := Render(card(`{"type":"ActionSet","actions":[{"type":"Action.OpenUrl","title":"long","url":"` + u + `"}]}`))
		if strings.Contains(string(out), "<a ") || !strings.Contains(string(out), "ac-action-disabled") {
			t.Errorf("over-long URL clickable: %.300s", out)
		}
	})
}

func TestText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"realistic", realistic, "Quarterly report.docx Thumbnail Ana Edited by Ana App Word Modified 2 hours ago Open Open in Word Web"},
		{"rich text and whitespace", `{"type":"AdaptiveCard","body":[{"type":"RichTextBlock","inlines":["Hel",{"type":"TextRun","text":"lo\n\n  world"}]},{"type":"TextBlock","text":"  <b>x</b>\t"}]}`,
			"Hello world <b>x</b>"},
		{"fallback text", `{"type":"AdaptiveCard","fallbackText":"Update your app","body":[{"type":"Input.Text","id":"x"}]}`, "Update your app"},
		{"hidden and inputs", `{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"a","isVisible":false},{"type":"Input.Text","placeholder":"p"},{"type":"TextBlock","text":"b"}]}`, "b"},
		{"not a card", `{"type":"Message","text":"hi"}`, ""},
		{"not json", `hi`, ""},
	}
	for _, tt := range tests {
		if got := Text([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: Text = %q; want %q", tt.name, got, tt.want)
		}
	}

	// The cap: many texts of two-byte runes, with the cut falling inside a rune.
	var parts []string
	for range 50 {
		parts = append(parts, `{"type":"TextBlock","text":"a`+strings.Repeat("é", 100)+`"}`)
	}
	got := Text([]byte(`{"type":"AdaptiveCard","body":[` + strings.Join(parts, ",") + `]}`))
	if len(got) > MaxPlainTextBytes || len(got) < MaxPlainTextBytes-4 || !utf8.ValidString(got) {
		t.Errorf("Text: %d bytes, valid UTF-8 %v; want at most %d", len(got), utf8.ValidString(got), MaxPlainTextBytes)
	}
	if !strings.HasPrefix(got, "a"+strings.Repeat("é", 100)+" a") {
		t.Errorf("Text starts %.60q", got)
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(realistic))
	f.Add([]byte(slotted))
	for i, in := range corpus(f) {
		if i%7 == 0 { // a sample: the whole corpus runs in TestRenderXSSCorpus
			f.Add(in)
		}
	}
	for _, s := range []string{"", "null", "[]", `{"type":"AdaptiveCard"}`, `{"type":"AdaptiveCard","body":[[[[]]]]}`,
		`{"type":"AdaptiveCard","body":[{"type":"Container","items":[{"type":"Container","items":[{"type":"TextBlock","text":"x"}]}]}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, ok := Render(in)
		if !ok && out != "" {
			t.Fatalf("Render = %q, false", out)
		}
		if ok && !strings.HasPrefix(string(out), `<div class="ac-card"`) {
			t.Fatalf("Render = %q", out)
		}
		if p := problems(string(out)); len(p) > 0 {
			t.Fatalf("unsafe output: %v\ninput:  %q\noutput: %s", p, in, out)
		}
		if s := Text(in); len(s) > MaxPlainTextBytes || !utf8.ValidString(s) {
			t.Fatalf("Text = %q", s)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	// worst is close to MaxContentBytes of short elements full of characters to escape.
	var parts []string
	size := 100
	for i := 0; size < MaxContentBytes-200; i++ {
		p := fmt.Sprintf(`{"type":"Container","items":[{"type":"TextBlock","text":"<\"&'%d"},{"type":"Image","url":"https://example.com/%d"}]}`, i, i)
		parts = append(parts, p)
		size += len(p) + 1
	}
	worst := []byte(`{"type":"AdaptiveCard","body":[` + strings.Join(parts, ",") + `]}`)
	for _, bb := range []struct {
		name string
		in   []byte
	}{{"realistic", []byte(realistic)}, {"worst", worst}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.in)))
			for b.Loop() {
				if _, ok := Render(bb.in); !ok {
					b.Fatal("Render: false")
				}
			}
		})
	}
}
