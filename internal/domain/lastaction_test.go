package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseLastActionOldAndNew(t *testing.T) {
	old := `{"action":"rollback","user":"u","trigger":"guard","time":"2026-11-26T03:12:00Z","from_revision":2,"to_revision":3}`
	l, ok := ParseLastAction(map[string]string{LastActionAnnotation: old})
	if !ok || !l.ByGuard() || l.Reason != "" || l.FromRevision != 2 {
		t.Fatalf("old annotation: %+v %v", l, ok)
	}
	if got := l.Actor(); got != "auto-guard" {
		t.Errorf("actor %q", got)
	}
	l.Host, l.Reason, l.Trigger = "guard-0", "errors", TriggerAlert
	back, ok := ParseLastAction(map[string]string{LastActionAnnotation: l.Encode()})
	if !ok || back.Host != "guard-0" || back.Reason != "errors" || back.Actor() != "auto-guard on an alert (pod guard-0)" {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestShortReasonBounded(t *testing.T) {
	long := strings.Repeat("é", 400)
	s := ShortReason(long)
	if len(s) > MaxLastActionReason || !utf8.ValidString(s) || !strings.HasSuffix(s, "...") {
		t.Fatalf("ShortReason: %d bytes, valid %v", len(s), utf8.ValidString(s))
	}
	if ShortReason("short") != "short" {
		t.Fatal("a short reason must be kept")
	}
}
