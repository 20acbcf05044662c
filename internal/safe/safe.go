// Package safe makes outside text fit to show: Text strips what a terminal would obey in text
// that comes from the cluster (escape sequences, control characters, bidi overrides), and URL
// and Redact hide the secrets a URL may carry (userinfo, query) in errors and logs. It imports
// nothing but the standard library, so the ui and the commands share it.
package safe

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

const esc = 0x1b

// Text returns s as plain, single-line text: ANSI/VT escape sequences (CSI, OSC such as the
// clipboard-writing OSC 52, DCS, APC, ...) are removed whole, other C0 and C1 control
// characters and DEL are dropped, tabs, carriage returns and newlines become spaces, Unicode
// bidirectional overrides and isolates are dropped, and invalid UTF-8 becomes U+FFFD.
func Text(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c == esc {
			i = skipEscape(s, i+1)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == 0x9b: // C1 CSI: a sequence like ESC [
			i = skipCSI(s, i+size)
			continue
		case r == 0x9d, r == 0x90, r == 0x98, r == 0x9e, r == 0x9f: // C1 OSC, DCS, SOS, PM, APC
			i = skipString(s, i+size)
			continue
		case r == '\t', r == '\n', r == '\r':
			b.WriteByte(' ')
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, bidi(r):
			// dropped
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// clean tells whether s has nothing Text would change (the common case: no allocation).
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || (r >= 0x80 && r < 0xa0) || bidi(r) {
				return false
			}
			i += size - 1
		}
	}
	return true
}

// bidi reports the Unicode bidirectional formatting characters that can make text display in
// another order than it is read (Trojan Source).
func bidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// skipEscape skips an escape sequence whose ESC was at i-1.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// ESC followed by intermediates (0x20-0x2f) then one final byte.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) {
		i++
	}
	return i
}

// skipCSI skips parameters and intermediates up to and including the final byte (0x40-0x7e).
func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		i++
		if c >= 0x40 && c <= 0x7e {
			return i
		}
		if c < 0x20 || c > 0x7e { // not a CSI byte: stop at it
			return i - 1
		}
	}
	return i
}

// skipString skips a control string (OSC, DCS, ...) up to its terminator: BEL, ESC \ or the
// C1 ST; an unterminated one runs to the end of s.
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == esc:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}

// Redacted replaces what URLs hide.
const Redacted = "REDACTED"

// URL returns u with its userinfo and query replaced by REDACTED and its fragment dropped:
// http://REDACTED@host/path?REDACTED. Text that does not parse as a URL with a host is
// returned with anything before an '@' hidden.
func URL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		if i := strings.LastIndexByte(u, '@'); i >= 0 {
			return Redacted + u[i:]
		}
		return u
	}
	if p.User != nil {
		p.User = url.User(Redacted)
	}
	if p.RawQuery != "" || p.ForceQuery {
		p.RawQuery = Redacted
	}
	p.Fragment, p.RawFragment = "", ""
	return p.String()
}

var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// OneLine is s as plain text (Text) with its runs of whitespace, newlines included, made one
// space: a multi-line error or Event message fit for a status line, a log field or a table.
func OneLine(s string) string {
	return strings.Join(strings.Fields(Text(s)), " ")
}

// Redact hides the secrets of every URL in a message (an error that quotes the URL it
// failed on, a log line).
func Redact(msg string) string {
	if !strings.Contains(msg, "://") {
		return msg
	}
	return urlInText.ReplaceAllStringFunc(msg, URL)
}

// Error is err's message with its URLs redacted; empty for nil.
func Error(err error) string {
	if err == nil {
		return ""
	}
	return Redact(err.Error())
}
