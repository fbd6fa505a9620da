// Package adaptivecard draws an Adaptive Card (https://adaptivecards.io, schema 1.0 to 1.5; element
// reference: https://adaptivecards.io/explorer/) as static, safe HTML on the server. Its input is the
// raw JSON of a userActivity's visualElements.content, which any app may write, so every byte of it is
// treated as hostile: the output is built with html/template only, carries no inline style, no event
// handler attribute, no script, iframe or form, and links only to vetted URLs.
//
// # What is drawn
//
// The card's body and its top-level actions:
//
//   - TextBlock: text (never interpreted: no Markdown, no DATE/TIME functions), size, weight,
//     isSubtle, color, fontType, wrap, maxLines (1 to 10), style "heading", horizontalAlignment.
//   - RichTextBlock: inlines that are strings or TextRuns (weight bolder as <strong>, italic as <em>,
//     strikethrough as <s>, underline, highlight, size, color, isSubtle, fontType, selectAction).
//   - Image: url (http and https only), altText, size, style "person", horizontalAlignment,
//     selectAction; always loading="lazy" and referrerpolicy="no-referrer".
//   - ImageSet (images, imageSize), Container (items, style, selectAction), ColumnSet (columns,
//     selectAction) and Column (items, width, style, selectAction).
//   - FactSet: facts as a <dl> of title (<dt>) and value (<dd>).
//   - ActionSet and the card's actions: Action.OpenUrl only (title, url, isEnabled).
//   - On every element: spacing, separator; isVisible false hides the element.
//
// Everything else is never drawn, and nothing is ever interactive but a link: the card's
// backgroundImage, speak, refresh, authentication, selectAction and fallbackText (Text uses the
// latter); Input.* elements; Media, Table and other element types; Action.Submit, Action.Execute,
// Action.ShowCard, Action.ToggleVisibility and other action types. An element or action of a type
// not drawn (Input.* included) is replaced by its "fallback" when that is an element (or an action),
// drawn under the same rules; otherwise it is skipped silently, text and all. Unknown properties are ignored, and a
// property of the wrong JSON type counts as absent. Enumeration values are matched without regard to
// case ("Large" and "large"); type names must match exactly.
//
// # Links
//
// A URL is clickable (an <a href rel="noopener noreferrer nofollow" target="_blank">) only when
//   - it has no whitespace, control or Unicode format character anywhere, is at most MaxURLBytes long
//     and parses with net/url as an absolute URL, and
//   - its scheme is http or https with a host that is a DNS name (letters, digits, "_", "-", dots)
//     or an IP address; or else its scheme matches ^[a-z][a-z0-9+.-]*$ and is not a script or
//     browser-internal one: javascript, vbscript, livescript, data, file, blob, about, filesystem,
//     view-source, jar, mhtml, ms-its, mk, res, resource, chrome, chrome-extension, moz-extension,
//     ms-browser-extension, wyciwyg.
//
// The href is the URL re-serialised by net/url (u.String()), with any user:password@ part removed,
// never the raw input; html/template escapes it again in the attribute. A link with a custom app scheme (ms-word:, spotify:, mailto:) shows its target
// text next to its title, so the person sees where it goes. An OpenUrl action whose URL fails these
// rules is drawn as plain text (its title); an Image whose URL is not http or https is not drawn. A
// selectAction wraps its element in a link only when the element holds no link of its own (links do
// not nest in HTML); a selectAction of another type than Action.OpenUrl is ignored.
//
// # Bidirectional text
//
// Block-level texts (TextBlock, RichTextBlock, <dt>, <dd>) carry dir="auto", and inline texts (text
// runs, action titles, link targets) are wrapped in <bdi>, so a right-to-left override (U+202E) in
// one text cannot reorder the layout around it.
//
// # Classes
//
// The HTML uses classes only; a stylesheet styles them. The full list:
//
//	ac-card                                   the root <div>
//	ac-text                                   TextBlock <div>
//	ac-text-small ac-text-medium ac-text-large ac-text-extralarge      size
//	ac-text-lighter ac-text-bolder            weight (TextBlock; a bolder TextRun is <strong>)
//	ac-text-subtle                            isSubtle
//	ac-text-dark ac-text-light ac-text-accent ac-text-good ac-text-warning ac-text-attention   color
//	ac-text-monospace                         fontType
//	ac-text-wrap                              wrap
//	ac-text-lines-1 ... ac-text-lines-10      maxLines
//	ac-text-heading                           style "heading"
//	ac-richtext                               RichTextBlock <div>
//	ac-run                                    TextRun <bdi> (with the ac-text-* classes above)
//	ac-run-underline ac-run-highlight         TextRun underline, highlight
//	ac-run-link                               TextRun selectAction <a>
//	ac-align-left ac-align-center ac-align-right                       horizontalAlignment
//	ac-image                                  Image <img>
//	ac-image-auto ac-image-stretch ac-image-small ac-image-medium ac-image-large   size
//	ac-image-person                           style "person"
//	ac-imageset                               ImageSet <div>
//	ac-container                              Container <div>
//	ac-columns                                ColumnSet <div>
//	ac-column                                 Column <div>
//	ac-column-auto ac-column-stretch          width
//	ac-column-span-1 ... ac-column-span-12    a numeric width, as twelfths of the numeric widths of
//	                                          its ColumnSet; a pixel width is ac-column-auto
//	ac-style-emphasis ac-style-good ac-style-attention ac-style-warning ac-style-accent   Container
//	                                          and Column style
//	ac-facts                                  FactSet <dl>
//	ac-fact                                   the <div> around one <dt> and <dd>
//	ac-actions                                ActionSet, and the card's actions, <div>
//	ac-action                                 an action: <a> when clickable, else <span>
//	ac-action-disabled                        an action that is not clickable
//	ac-action-target                          the <bdi> after a custom-scheme link with its target
//	ac-select                                 the <a> of a selectAction: around an Image, or inside
//	                                          a Container, Column or ColumnSet <div> around its items
//	                                          (in a ColumnSet, lay it out as the columns' row:
//	                                          .ac-columns > .ac-select { display: flex })
//	ac-separator                              separator
//	ac-spacing-none ac-spacing-small ac-spacing-medium ac-spacing-large ac-spacing-extralarge
//	ac-spacing-padding                        spacing
//
// # Limits
//
// See MaxContentBytes, MaxDepth, MaxElements, MaxTextRunes, MaxFacts, MaxActions, MaxURLBytes and
// MaxPlainTextBytes. Work and output are linear in the input, which is at most MaxContentBytes.
package adaptivecard

import (
	"bytes"
	"encoding/json"
	"html/template"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxContentBytes is the largest content Render and Text read, 64 KiB; longer content is not a
	// card they draw (Render returns false, Text "").
	MaxContentBytes = 64 << 10

	// MaxDepth is how deep elements may nest; deeper elements are dropped. The card's body elements are
	// at depth 1; the items of a Container, the columns of a ColumnSet, the items of a Column, the
	// images of an ImageSet and an element's fallback are each one level deeper than their parent.
	MaxDepth = 16

	// MaxElements is the most elements drawn in one card (TextBlock, RichTextBlock, Image, ImageSet,
	// Container, ColumnSet, Column, FactSet, ActionSet each count one); later ones are dropped.
	MaxElements = 200

	// MaxTextRunes is the longest text drawn, in runes: a longer text keeps its first
	// MaxTextRunes-1 runes followed by "…".
	MaxTextRunes = 2000

	// MaxFacts is the most facts drawn per FactSet; later ones are dropped.
	MaxFacts = 50

	// MaxActions is the most actions drawn per ActionSet and in the card's actions; later ones are
	// dropped.
	MaxActions = 10

	// MaxURLBytes is the longest URL used in an href or src; a longer one is treated as unsafe.
	MaxURLBytes = 2048

	// MaxPlainTextBytes is the longest string Text returns, in bytes, cut on a rune boundary.
	MaxPlainTextBytes = 4096
)

// Render returns safe HTML for content (the raw JSON of visualElements.content) and reports whether
// it was an Adaptive Card it could draw. For anything else (not JSON, not an object, "type" not
// "AdaptiveCard", nothing drawable, more than MaxContentBytes) it returns "" and false; the caller
// then shows its plain fallback.
//
// The HTML is one <div class="ac-card"> holding the drawn elements in order and then, in a
// <div class="ac-actions">, the card's actions; see the package documentation for the elements, the
// link rules and the classes.
func Render(content []byte) (template.HTML, bool) {
	c, ok := parse(content)
	if !ok || len(c.Body) == 0 {
		return "", false
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "card", c); err != nil {
		return "", false
	}
	// The only conversion to template.HTML: the output of html/template, never input.
	return template.HTML(buf.String()), true
}

// Text returns the plain text of the card for search indexing: the texts Render would draw (TextBlock
// and TextRun texts, Image altText, FactSet titles and values, action titles) in document order, with
// each run of whitespace made one space, at most MaxPlainTextBytes bytes, cut on a rune boundary. When
// the card draws no text it returns the card's fallbackText, if any. It returns "" when content is
// not an Adaptive Card.
func Text(content []byte) string {
	c, ok := parse(content)
	if !ok {
		return ""
	}
	w := &textWriter{}
	for _, n := range c.Body {
		n.collect(w)
	}
	if w.b.Len() == 0 {
		w.add(clean(c.fallbackText))
	}
	s := w.b.String()
	if len(s) > MaxPlainTextBytes {
		i := MaxPlainTextBytes
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = strings.TrimRight(s[:i], " ")
	}
	return s
}

// card is what the "card" template draws.
type card struct {
	Lang         string // a BCP 47-looking tag, or ""
	Dir          string // "rtl", "ltr" or ""
	Body         []*node
	fallbackText string
}

// node is one drawn element. Class is built from the fixed class names of this file only.
type node struct {
	Kind    string // text, rich, image, imageset, container, columns, column, facts, actions
	Class   string
	Text    string  // text
	Runs    []run   // rich
	Src     string  // image: a vetted http(s) URL
	Alt     string  // image
	Items   []*node // imageset, container, columns, column
	Facts   []fact  // facts
	Actions []action
	Link    *link // selectAction

	hasLink bool // the node or a descendant holds a link
}

type run struct {
	Class                string
	Text                 string
	Bold, Italic, Strike bool
	Link                 *link
}

type fact struct{ Title, Value string }

type action struct {
	Title string
	Link  *link // nil when not clickable
}

// link is a vetted URL. Href is a string for http and https, which html/template checks again, or a
// template.URL for a custom scheme that vetURL accepted (html/template would otherwise refuse it).
type link struct {
	Href   any
	Target string // the URL as text, shown after a custom-scheme link

	text string // the URL as text
}

var page = template.Must(template.New("adaptivecard").Parse(`
{{- define "card" -}}
<div class="ac-card"{{if .Lang}} lang="{{.Lang}}"{{end}}{{if .Dir}} dir="{{.Dir}}"{{end}}>
{{- range .Body}}{{template "el" .}}{{end -}}
</div>
{{- end -}}

{{- define "el" -}}
{{- if eq .Kind "text" -}}
<div class="{{.Class}}" dir="auto">{{.Text}}</div>
{{- else if eq .Kind "rich" -}}
<div class="{{.Class}}" dir="auto">{{range .Runs}}{{template "run" .}}{{end}}</div>
{{- else if eq .Kind "image" -}}
{{- if .Link}}<a class="ac-select" href="{{.Link.Href}}" rel="noopener noreferrer nofollow" target="_blank">{{end -}}
<img class="{{.Class}}" src="{{.Src}}" alt="{{.Alt}}" loading="lazy" referrerpolicy="no-referrer" decoding="async">
{{- if .Link}}</a>{{template "target" .Link}}{{end -}}
{{- else if eq .Kind "facts" -}}
<dl class="{{.Class}}">
{{- range .Facts}}<div class="ac-fact"><dt dir="auto">{{.Title}}</dt><dd dir="auto">{{.Value}}</dd></div>{{end -}}
</dl>
{{- else if eq .Kind "actions" -}}
<div class="{{.Class}}">{{range .Actions}}{{template "action" .}}{{end}}</div>
{{- else -}}
<div class="{{.Class}}">
{{- if .Link}}<a class="ac-select" href="{{.Link.Href}}" rel="noopener noreferrer nofollow" target="_blank">{{end -}}
{{- range .Items}}{{template "el" .}}{{end -}}
{{- if .Link}}</a>{{template "target" .Link}}{{end -}}
</div>
{{- end -}}
{{- end -}}

{{- define "run" -}}
{{- if .Link}}<a class="ac-run-link" href="{{.Link.Href}}" rel="noopener noreferrer nofollow" target="_blank">{{end -}}
<bdi class="{{.Class}}">
{{- if .Bold}}<strong>{{end}}{{if .Italic}}<em>{{end}}{{if .Strike}}<s>{{end -}}
{{.Text}}
{{- if .Strike}}</s>{{end}}{{if .Italic}}</em>{{end}}{{if .Bold}}</strong>{{end -}}
</bdi>
{{- if .Link}}</a>{{template "target" .Link}}{{end -}}
{{- end -}}

{{- define "action" -}}
{{- if .Link -}}
<a class="ac-action" href="{{.Link.Href}}" rel="noopener noreferrer nofollow" target="_blank"><bdi>{{.Title}}</bdi></a>
{{- template "target" .Link -}}
{{- else -}}
<span class="ac-action ac-action-disabled"><bdi>{{.Title}}</bdi></span>
{{- end -}}
{{- end -}}

{{- define "target" -}}
{{- if .Target}} <bdi class="ac-action-target">{{.Target}}</bdi>{{end -}}
{{- end -}}
`))

// parse decodes content and builds the tree to draw. ok is false when content is not an Adaptive Card.
func parse(content []byte) (c *card, ok bool) {
	if len(content) == 0 || len(content) > MaxContentBytes {
		return nil, false
	}
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	var v any
	if err := json.Unmarshal(content, &v); err != nil { // encoding/json also caps nesting
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok || m["type"] != "AdaptiveCard" {
		return nil, false
	}
	b := &builder{}
	c = &card{Body: b.elements(m["body"], 1), fallbackText: str(m, "fallbackText")}
	if acts := b.actions(m["actions"]); len(acts) > 0 {
		c.Body = append(c.Body, &node{Kind: "actions", Class: "ac-actions", Actions: acts})
	}
	if lang := str(m, "lang"); len(lang) <= 35 && langRE.MatchString(lang) {
		c.Lang = lang
	}
	if rtl, ok := m["rtl"].(bool); ok {
		c.Dir = map[bool]string{true: "rtl", false: "ltr"}[rtl]
	}
	return c, true
}

var langRE = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

// builder turns decoded JSON into nodes, counting elements against MaxElements.
type builder struct{ count int }

func (b *builder) elements(v any, depth int) []*node {
	arr, _ := v.([]any)
	var out []*node
	for _, e := range arr {
		if b.count >= MaxElements {
			break
		}
		if n := b.element(e, depth); n != nil {
			out = append(out, n)
		}
	}
	return out
}

// element builds one element at depth, or returns nil when it draws nothing.
func (b *builder) element(v any, depth int) *node {
	if depth > MaxDepth || b.count >= MaxElements {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	if visible, ok := m["isVisible"].(bool); ok && !visible {
		return nil
	}
	b.count++ // given back below when nothing is drawn
	var n *node
	switch str(m, "type") {
	case "TextBlock":
		n = textBlock(m)
	case "RichTextBlock":
		n = richTextBlock(m)
	case "Image":
		n = image(m, "")
	case "ImageSet":
		n = b.imageSet(m, depth)
	case "Container":
		n = b.group(m, "container", b.elements(m["items"], depth+1))
	case "ColumnSet":
		n = b.columnSet(m, depth)
	case "FactSet":
		n = factSet(m)
	case "ActionSet":
		if acts := b.actions(m["actions"]); len(acts) > 0 {
			n = &node{Kind: "actions", Class: "ac-actions", Actions: acts}
			for _, a := range acts {
				n.hasLink = n.hasLink || a.Link != nil
			}
		}
	default: // not drawn (Input.*, Media, Table, unknown): the fallback, if it is an element
		b.count--
		return b.element(m["fallback"], depth+1)
	}
	if n == nil {
		b.count--
		return nil
	}
	n.Class = joinClasses(n.Class, commonClasses(m))
	return n
}

// group is a Container or Column: its items, style and selectAction; nil when no item is drawn.
func (b *builder) group(m map[string]any, kind string, items []*node) *node {
	if len(items) == 0 {
		return nil
	}
	n := &node{Kind: kind, Class: "ac-" + kind, Items: items}
	if s := enum(m, "style", "emphasis", "good", "attention", "warning", "accent"); s != "" {
		n.Class += " ac-style-" + s
	}
	for _, it := range items {
		n.hasLink = n.hasLink || it.hasLink
	}
	n.setSelect(m)
	return n
}

// setSelect wraps n in the link of its selectAction, unless n already holds a link.
func (n *node) setSelect(m map[string]any) {
	if n.hasLink {
		return
	}
	if n.Link = selectLink(m); n.Link != nil {
		n.hasLink = true
	}
}

func (b *builder) columnSet(m map[string]any, depth int) *node {
	arr, _ := m["columns"].([]any)
	var cols []*node
	var weights []float64
	sum := 0.0
	for _, v := range arr {
		if b.count >= MaxElements || depth+1 > MaxDepth {
			break
		}
		cm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if t, present := cm["type"]; present && t != "Column" {
			continue
		}
		if visible, ok := cm["isVisible"].(bool); ok && !visible {
			continue
		}
		b.count++
		col := b.group(cm, "column", b.elements(cm["items"], depth+2))
		if col == nil {
			b.count--
			continue
		}
		col.Class = joinClasses(col.Class, commonClasses(cm))
		kind, w := columnWidth(cm["width"])
		if kind != "" {
			col.Class += " ac-column-" + kind
		}
		cols, weights, sum = append(cols, col), append(weights, w), sum+w
	}
	for i, w := range weights {
		if w > 0 {
			span := min(max(int(math.Round(12*w/sum)), 1), 12)
			cols[i].Class += " ac-column-span-" + strconv.Itoa(span)
		}
	}
	return b.group(m, "columns", cols)
}

// columnWidth reads a Column width: kind "auto" or "stretch", or "" and a positive weight.
func columnWidth(v any) (kind string, weight float64) {
	var w float64
	switch x := v.(type) {
	case float64:
		w = x
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		switch {
		case s == "auto" || s == "stretch":
			return s, 0
		case strings.HasSuffix(s, "px"):
			return "auto", 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "stretch", 0
		}
		w = f
	default:
		return "stretch", 0
	}
	if math.IsNaN(w) || w <= 0 || w > 1e6 {
		return "stretch", 0
	}
	return "", w
}

func (b *builder) imageSet(m map[string]any, depth int) *node {
	if depth+1 > MaxDepth {
		return nil
	}
	size := enum(m, "imageSize", "auto", "stretch", "small", "medium", "large")
	arr, _ := m["images"].([]any)
	var imgs []*node
	for _, v := range arr {
		if b.count >= MaxElements {
			break
		}
		im, ok := v.(map[string]any)
		if !ok || str(im, "type") != "Image" {
			continue
		}
		if visible, ok := im["isVisible"].(bool); ok && !visible {
			continue
		}
		if n := image(im, size); n != nil {
			b.count++
			imgs = append(imgs, n)
		}
	}
	if len(imgs) == 0 {
		return nil
	}
	n := &node{Kind: "imageset", Class: "ac-imageset", Items: imgs}
	for _, im := range imgs {
		n.hasLink = n.hasLink || im.hasLink
	}
	return n
}

func image(m map[string]any, defaultSize string) *node {
	src, custom, ok := vetURL(str(m, "url"))
	if !ok || custom {
		return nil
	}
	n := &node{Kind: "image", Class: "ac-image", Src: src, Alt: clean(str(m, "altText"))}
	size := enum(m, "size", "auto", "stretch", "small", "medium", "large")
	if size == "" {
		size = defaultSize
	}
	if size != "" {
		n.Class += " ac-image-" + size
	}
	if enum(m, "style", "person") != "" {
		n.Class += " ac-image-person"
	}
	n.Class = joinClasses(n.Class, alignClass(m))
	n.setSelect(m)
	return n
}

func textBlock(m map[string]any) *node {
	text := clean(str(m, "text"))
	if text == "" {
		return nil
	}
	classes := []string{"ac-text", textClasses(m, true)}
	if b, _ := m["wrap"].(bool); b {
		classes = append(classes, "ac-text-wrap")
	}
	if f, ok := m["maxLines"].(float64); ok && f >= 1 && f <= 10 && f == math.Trunc(f) {
		classes = append(classes, "ac-text-lines-"+strconv.Itoa(int(f)))
	}
	if enum(m, "style", "heading") != "" {
		classes = append(classes, "ac-text-heading")
	}
	classes = append(classes, alignClass(m))
	return &node{Kind: "text", Class: joinClasses(classes...), Text: text}
}

func richTextBlock(m map[string]any) *node {
	arr, _ := m["inlines"].([]any)
	n := &node{Kind: "rich", Class: joinClasses("ac-richtext", alignClass(m))}
	for _, v := range arr {
		var r run
		switch x := v.(type) {
		case string:
			r = run{Class: "ac-run", Text: sanitize(x)}
		case map[string]any:
			if t, present := x["type"]; present && t != "TextRun" {
				continue
			}
			r = run{Text: sanitize(str(x, "text"))}
			r.Class = joinClasses("ac-run", textClasses(x, false))
			r.Bold = enum(x, "weight", "bolder") != ""
			r.Italic, _ = x["italic"].(bool)
			r.Strike, _ = x["strikethrough"].(bool)
			if u, _ := x["underline"].(bool); u {
				r.Class += " ac-run-underline"
			}
			if h, _ := x["highlight"].(bool); h {
				r.Class += " ac-run-highlight"
			}
			r.Link = selectLink(x)
		}
		if strings.TrimSpace(r.Text) == "" {
			continue
		}
		n.Runs = append(n.Runs, r)
		n.hasLink = n.hasLink || r.Link != nil
	}
	if len(n.Runs) == 0 {
		return nil
	}
	return n
}

func factSet(m map[string]any) *node {
	arr, _ := m["facts"].([]any)
	n := &node{Kind: "facts", Class: "ac-facts"}
	for _, v := range arr {
		if len(n.Facts) >= MaxFacts {
			break
		}
		fm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		f := fact{Title: clean(str(fm, "title")), Value: clean(str(fm, "value"))}
		if f.Title != "" || f.Value != "" {
			n.Facts = append(n.Facts, f)
		}
	}
	if len(n.Facts) == 0 {
		return nil
	}
	return n
}

// actions reads an array of actions, at most MaxActions of them drawn.
func (b *builder) actions(v any) []action {
	arr, _ := v.([]any)
	var out []action
	for _, e := range arr {
		if len(out) >= MaxActions {
			break
		}
		if a, ok := readAction(e, 0); ok {
			out = append(out, a)
		}
	}
	return out
}

// readAction reads an Action.OpenUrl, or the fallback of an action of another type.
func readAction(v any, depth int) (action, bool) {
	m, ok := v.(map[string]any)
	if !ok || depth > MaxDepth {
		return action{}, false
	}
	if str(m, "type") != "Action.OpenUrl" { // Submit, Execute, ShowCard, ToggleVisibility, unknown
		return readAction(m["fallback"], depth+1)
	}
	a := action{Title: clean(str(m, "title")), Link: openURL(str(m, "url"))}
	if a.Title == "" {
		if a.Link == nil {
			return action{}, false
		}
		a.Title, a.Link.Target = a.Link.text, "" // the URL is the title: no need to show it twice
	}
	if enabled, ok := m["isEnabled"].(bool); ok && !enabled {
		a.Link = nil
	}
	return a, true
}

// selectLink is the link of m's selectAction, when that is an Action.OpenUrl with a vetted URL.
func selectLink(m map[string]any) *link {
	sa, ok := m["selectAction"].(map[string]any)
	if !ok || str(sa, "type") != "Action.OpenUrl" {
		return nil
	}
	if enabled, ok := sa["isEnabled"].(bool); ok && !enabled {
		return nil
	}
	return openURL(str(sa, "url"))
}

// openURL is the link for raw, or nil when raw is not safe to click.
func openURL(raw string) *link {
	u, custom, ok := vetURL(raw)
	if !ok {
		return nil
	}
	if custom {
		return &link{Href: template.URL(u), Target: clean(u), text: clean(u)} // vetted by vetURL
	}
	return &link{Href: u, text: clean(u)}
}

// deniedSchemes are the schemes that run script, read local or browser-internal data, or hide a
// payload; a URL with one of them is never clickable.
var deniedSchemes = map[string]bool{
	"javascript": true, "vbscript": true, "livescript": true, "data": true, "file": true, "blob": true,
	"about": true, "filesystem": true, "view-source": true, "jar": true, "mhtml": true, "ms-its": true,
	"mk": true, "res": true, "resource": true, "chrome": true, "chrome-extension": true,
	"moz-extension": true, "ms-browser-extension": true, "wyciwyg": true,
	// Windows handlers that malware campaigns open from a link: the support diagnostic tool
	// (CVE-2022-30190, "Follina"), Explorer's search of a remote share, Office's command channel,
	// the account setup host, the installer of apps.
	"ms-msdt": true, "search-ms": true, "search": true, "ms-officecmd": true, "ms-cxh": true,
	"ms-cxh-full": true, "ms-appinstaller": true,
}

var (
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	// hostRE is a DNS name, internationalised or not: net/url lets through hosts such as ex"ample.
	hostRE = regexp.MustCompile(`^[\p{L}\p{N}_-]+(\.[\p{L}\p{N}_-]+)*\.?$`)
)

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// SafeURL returns raw re-serialised by net/url when it is safe in an href (see the package
// documentation: http and https with a real host and no user name, or an app's own scheme that runs
// no script and reads nothing local), and whether its scheme is a custom one. The timeline's Resume
// links use it too, so that one rule decides what a person can click.
func SafeURL(raw string) (u string, custom, ok bool) { return vetURL(raw) }

// vetURL is SafeURL.
func vetURL(raw string) (u string, custom, ok bool) {
	if raw == "" || len(raw) > MaxURLBytes {
		return "", false, false
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == utf8.RuneError ||
			unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return "", false, false
		}
	}
	p, err := url.Parse(raw)
	if err != nil || p.Scheme == "" {
		return "", false, false
	}
	scheme := strings.ToLower(p.Scheme)
	if !schemeRE.MatchString(scheme) || deniedSchemes[scheme] {
		return "", false, false
	}
	p.Scheme = scheme
	custom = scheme != "http" && scheme != "https"
	if !custom {
		h := p.Hostname()
		if p.Opaque != "" || h == "" || !hostRE.MatchString(h) && !isIP(h) {
			return "", false, false
		}
		p.User = nil // https://trusted.example@evil.example/ shows as what it is
	}
	u = p.String()
	// Belt and braces: the serialised URL must parse back with the same scheme, at its very start.
	if q, err := url.Parse(u); err != nil || q.Scheme != scheme || !strings.HasPrefix(u, scheme+":") ||
		len(u) > MaxURLBytes {
		return "", false, false
	}
	return u, custom, true
}

// textClasses are the TextBlock and TextRun classes of size, color, isSubtle and fontType, and of
// weight when withWeight.
func textClasses(m map[string]any, withWeight bool) string {
	var cs []string
	if s := enum(m, "size", "small", "medium", "large", "extralarge"); s != "" {
		cs = append(cs, "ac-text-"+s)
	}
	if withWeight {
		if s := enum(m, "weight", "lighter", "bolder"); s != "" {
			cs = append(cs, "ac-text-"+s)
		}
	}
	if s := enum(m, "color", "dark", "light", "accent", "good", "warning", "attention"); s != "" {
		cs = append(cs, "ac-text-"+s)
	}
	if b, _ := m["isSubtle"].(bool); b {
		cs = append(cs, "ac-text-subtle")
	}
	if enum(m, "fontType", "monospace") != "" {
		cs = append(cs, "ac-text-monospace")
	}
	return joinClasses(cs...)
}

func alignClass(m map[string]any) string {
	if s := enum(m, "horizontalAlignment", "left", "center", "right"); s != "" {
		return "ac-align-" + s
	}
	return ""
}

// commonClasses are the classes of the properties every element has: separator and spacing.
func commonClasses(m map[string]any) string {
	var cs []string
	if b, _ := m["separator"].(bool); b {
		cs = append(cs, "ac-separator")
	}
	if s := enum(m, "spacing", "none", "small", "medium", "large", "extralarge", "padding"); s != "" {
		cs = append(cs, "ac-spacing-"+s)
	}
	return joinClasses(cs...)
}

func joinClasses(cs ...string) string {
	var b strings.Builder
	for _, c := range cs {
		if c == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c)
	}
	return b.String()
}

// enum returns m[key] lower-cased when it is a string among allowed (which are lower case), else "".
// Only the allowed constants ever reach a class name.
func enum(m map[string]any, key string, allowed ...string) string {
	s, _ := m[key].(string)
	if s == "" || len(s) > 32 {
		return ""
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a
		}
	}
	return ""
}

// str returns m[key] when it is a string, else "".
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// clean is sanitize of s without its surrounding space.
func clean(s string) string {
	return sanitize(strings.TrimSpace(s))
}

// sanitize drops control characters (keeping tab and newline) and cuts the text to MaxTextRunes.
func sanitize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return r
		case r == '\r':
			return '\n'
		case r < ' ' || (r >= 0x7f && r <= 0x9f) || r == 0xfffe || r == 0xffff:
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= MaxTextRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == MaxTextRunes-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// textWriter gathers words for Text, stopping a little past MaxPlainTextBytes.
type textWriter struct{ b strings.Builder }

func (w *textWriter) add(s string) {
	for _, f := range strings.Fields(s) {
		if w.b.Len() > MaxPlainTextBytes {
			return
		}
		if w.b.Len() > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(f)
	}
}

func (n *node) collect(w *textWriter) {
	w.add(n.Text)
	if len(n.Runs) > 0 {
		var sb strings.Builder
		for _, r := range n.Runs {
			sb.WriteString(r.Text)
		}
		w.add(sb.String())
	}
	w.add(n.Alt)
	for _, f := range n.Facts {
		w.add(f.Title)
		w.add(f.Value)
	}
	for _, a := range n.Actions {
		w.add(a.Title)
	}
	for _, it := range n.Items {
		it.collect(w)
	}
}
