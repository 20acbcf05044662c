package safe

import (
	"errors"
	"strings"
	"testing"
)

func TestTextStripsWhatATerminalWouldObey(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "Back-off restarting failed container", "Back-off restarting failed container"},
		{"clear screen", "oops\x1b[2Jgone", "oopsgone"},
		{"colour", "\x1b[31;1mred\x1b[0m", "red"},
		{"osc 52 clipboard with BEL", "x\x1b]52;c;cm0gLXJmIC8=\x07y", "xy"},
		{"osc title with ST", "a\x1b]0;owned\x1b\\b", "ab"},
		{"osc 8 hyperlink", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"dcs", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"c1 csi", "a\u009b2Jb", "ab"},
		{"c1 osc", "a\u009d52;c;x\u009cb", "ab"},
		{"carriage return overwrite", "ok\rFAILED", "ok FAILED"},
		{"newline", "one\ntwo", "one two"},
		{"bell and backspace", "a\a\bb\x7f", "ab"},
		{"bidi override", "image:v1\u202e2v\u202c", "image:v12v"},
		{"bidi isolate", "\u2066x\u2069", "x"},
		{"invalid utf-8", "a\xffb", "a\ufffdb"},
		{"unterminated csi", "a\x1b[", "a"},
		{"lone esc", "a\x1b", "a"},
		{"unicode kept", "déploiement ✓ 日本", "déploiement ✓ 日本"},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("%s: Text(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
		if got := Text(c.in); strings.ContainsAny(got, "\x1b\a\r\n\u009b\u202e") {
			t.Errorf("%s: %q still has a control character", c.name, got)
		}
	}
}

func TestURLRedactsUserinfoAndQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://127.0.0.1:9093", "http://127.0.0.1:9093"},
		{"https://bob:s3cret@am.example:9093/api", "https://REDACTED@am.example:9093/api"},
		{"https://hooks.example/services/T0/B0?token=abc&x=1#frag", "https://hooks.example/services/T0/B0?REDACTED"},
		{"http://token@127.0.0.1:9090", "http://REDACTED@127.0.0.1:9090"},
		{"not a url user:pw@host", "REDACTED@host"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	err := errors.New(`webhook: Post "https://bob:s3cret@hooks.example/x?token=abc": dial tcp: connection refused`)
	got := Error(err)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "bob") || strings.Contains(got, "abc") ||
		got != `webhook: Post "https://REDACTED@hooks.example/x?REDACTED": dial tcp: connection refused` {
		t.Errorf("Error = %q", got)
	}
}

func BenchmarkTextClean(b *testing.B) {
	s := "order-service:v2 Back-off restarting failed container app in pod order-service-7d9f8c-abcde"
	for b.Loop() {
		_ = Text(s)
	}
}
