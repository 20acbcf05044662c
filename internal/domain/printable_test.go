package domain

import (
	"strings"
	"testing"
)

func TestPrintableCleansClusterTextAndSharesCleanServices(t *testing.T) {
	hostile := "v2\x1b[2J\x1b]52;c;cm0gLXJm\x07\u202e\r"
	clean := Service{Namespace: "shop", Name: "cart", Image: "cart:v1"}
	dirty := Service{Namespace: "shop", Name: "web", Image: "web:" + hostile, Message: "stalled " + hostile,
		Containers: []Container{{Name: "app", Image: "web:" + hostile}},
		Conditions: []Condition{{Type: "Progressing", Reason: "ProgressDeadlineExceeded", Message: hostile}},
		ReplicaSets: []ReplicaSet{{Name: "web-1", Image: "web:" + hostile, ChangeCause: hostile,
			Pods: []Pod{{Name: "web-1-abcde", Reason: "CrashLoopBackOff" + hostile}}}},
		BlueGreen: &BlueGreen{Active: ColorBlue, PendingImage: hostile, Colors: map[Color]ColorState{ColorBlue: {Image: hostile}}}}
	st := ClusterState{Services: []Service{clean, dirty}, Events: []Event{{Reason: "Hostile\x1b[31m", Message: "pwned " + hostile}}}
	out := st.Printable()
	all := strings.Join([]string{out.Services[1].Image, out.Services[1].Message, out.Services[1].Containers[0].Image,
		out.Services[1].Conditions[0].Message, out.Services[1].ReplicaSets[0].Image, out.Services[1].ReplicaSets[0].ChangeCause,
		out.Services[1].ReplicaSets[0].Pods[0].Reason, out.Services[1].BlueGreen.PendingImage, out.Services[1].BlueGreen.Colors[ColorBlue].Image,
		out.Events[0].Reason, out.Events[0].Message}, "|")
	if strings.ContainsAny(all, "\x1b\a\r\u202e") {
		t.Fatalf("left control characters: %q", all)
	}
	if out.Services[1].Image != "web:v2 " || out.Events[0].Message != "pwned v2 " {
		t.Fatalf("cleaned text: %q, %q", out.Services[1].Image, out.Events[0].Message)
	}
	// The input is not modified: the informers' snapshot may be shared with the guard.
	if st.Services[1].Image != "web:"+hostile || st.Services[1].ReplicaSets[0].Pods[0].Reason != "CrashLoopBackOff"+hostile ||
		st.Services[1].BlueGreen.Colors[ColorBlue].Image != hostile {
		t.Fatal("Printable modified its input")
	}
	// A state with nothing to clean is returned as is.
	ok := ClusterState{Services: []Service{clean}}
	if p := ok.Printable(); &p.Services[0] != &ok.Services[0] {
		t.Fatal("a clean state was copied")
	}
}
