package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// delim reads the token that opens an object or array; want says, in words, what was expected.
func (p *awReader) delim(open json.Delim, want string) error {
	at := p.pos.tokenStart(p.dec.InputOffset())
	tok, err := p.dec.Token()
	if err != nil {
		return p.syntax(err, 0)
	}
	if tok != open {
		return p.errorf(at, "not an ActivityWatch export: %s, not %s", want, tokenWord(tok))
	}
	return nil
}

// key reads an object's next key.
func (p *awReader) key() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", p.syntax(err, 0)
	}
	s, _ := tok.(string) // inside an object, Token returns only string keys
	return s, nil
}

// value decodes the next value into v; want says, in words, what was expected.
func (p *awReader) value(v any, want string) error {
	at := p.pos.tokenStart(p.dec.InputOffset())
	err := p.dec.Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return p.errorf(at, "not an ActivityWatch export: %s, not a %s", want, te.Value)
	}
	return p.syntax(err, at)
}

// skipValue reads past the next value, token by token, holding none of it.
func (p *awReader) skipValue() error {
	depth := 0
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return p.syntax(err, 0)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// syntax words a decoding error for the person, with the line and column where it lies. decodeAt is
// the offset of the value being decoded when err comes from Decode, else 0.
func (p *awReader) syntax(err error, decodeAt int64) error {
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) && p.pos.end() == 0:
		return fmt.Errorf("%s: the file is empty", p.name)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return p.errorf(p.pos.end(), "the file ends before the export does (it is cut short)")
	case errors.As(err, &se):
		// The decoder's offsets count from different places for its different errors; where it
		// stands is the start of the value it could not read, which is read again here, alone.
		at := p.pos.tokenStart(max(p.dec.InputOffset(), decodeAt))
		var v any
		if rest := p.pos.from(at); rest != nil {
			if err := json.NewDecoder(bytes.NewReader(rest)).Decode(&v); errors.As(err, &se) {
				at += max(se.Offset-1, 0)
			}
		}
		return p.errorf(at, "not JSON: %s", se.Error())
	}
	return fmt.Errorf("read %s: %w", p.name, err)
}

// errorf returns an error naming the file and the line and column of offset.
func (p *awReader) errorf(offset int64, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line, col := p.pos.position(offset); line > 0 {
		return fmt.Errorf("%s: line %d, column %d: %s", p.name, line, col, msg)
	}
	return fmt.Errorf("%s: byte %d: %s", p.name, offset, msg)
}

func tokenWord(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// posReader passes reads through and keeps the latest of what it read, with the count of the lines
// before it, so that a decoder's offset can be told as a line and a column: of a large export only
// the last megabyte or two are held.
type posReader struct {
	r         io.Reader
	base      int64  // the offset of kept[0]
	lines     int    // newlines before base
	lineStart int64  // the offset of the first byte of the line that base is in
	kept      []byte // the latest bytes read
}

const posKeep = 1 << 20

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.kept = append(p.kept, b[:n]...)
	if len(p.kept) > 2*posKeep {
		drop := p.kept[:len(p.kept)-posKeep]
		p.lines += bytes.Count(drop, []byte("\n"))
		if i := bytes.LastIndexByte(drop, '\n'); i >= 0 {
			p.lineStart = p.base + int64(i) + 1
		}
		p.base += int64(len(drop))
		p.kept = slices.Clone(p.kept[len(drop):])
	}
	return n, err
}

// tokenStart returns the offset of the next token at or after offset: past white space and the ":"
// or "," that the decoder has not consumed yet.
func (p *posReader) tokenStart(offset int64) int64 {
	for offset >= p.base && offset < p.end() && bytes.IndexByte([]byte(" \t\r\n:,"), p.kept[offset-p.base]) >= 0 {
		offset++
	}
	return offset
}

// from returns the bytes held from offset to the end of what was read, or nil.
func (p *posReader) from(offset int64) []byte {
	if offset < p.base || offset >= p.end() {
		return nil
	}
	return p.kept[offset-p.base:]
}

// end returns the offset of the end of what was read.
func (p *posReader) end() int64 { return p.base + int64(len(p.kept)) }

// position returns the 1-based line and column (in bytes) of offset, or 0, 0 when it is no longer
// held.
func (p *posReader) position(offset int64) (line, col int) {
	if offset < p.base || offset > p.end() {
		return 0, 0
	}
	seg := p.kept[:offset-p.base]
	line = p.lines + bytes.Count(seg, []byte("\n")) + 1
	if i := bytes.LastIndexByte(seg, '\n'); i >= 0 {
		return line, len(seg) - i
	}
	return line, int(offset-p.lineStart) + 1
}
