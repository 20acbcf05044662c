package keys

import (
	"slices"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/opsdeck/opsdeck/config"
	"github.com/opsdeck/opsdeck/ui/keys/keytest"
)

func TestDefaultsFollowTheDesign(t *testing.T) {
	k := Default()
	for s, b := range map[string]key.Binding{
		"j": k.Down, "k": k.Up, "d": k.Deploy, "r": k.Rollback, "a": k.Guard, "p": k.Pause,
		"R": k.Restart, "s": k.Scale, "/": k.Filter, "?": k.Help, "q": k.Quit, "y": k.Confirm, "t": k.Timeline, "l": k.Logs,
	} {
		if !key.Matches(keytest.Press(s), b) {
			t.Errorf("%s does not trigger %q", s, b.Help().Desc)
		}
	}
	if key.Matches(keytest.Press("r"), k.Restart) {
		t.Error("r and R must differ")
	}
}

func TestApply(t *testing.T) {
	k := Default()
	if err := k.Apply(map[string][]string{"deploy": {"D", "ctrl+d"}, "rollback": {"b"}}); err != nil {
		t.Fatal(err)
	}
	if key.Matches(keytest.Press("d"), k.Deploy) || !key.Matches(keytest.Press("D"), k.Deploy) || k.Deploy.Help().Key != "D/ctrl+d" {
		t.Errorf("deploy: %v %q", k.Deploy.Keys(), k.Deploy.Help().Key)
	}
	err := k.Apply(map[string][]string{"deplo": {"x"}, "scale": nil, "help": {"h"}})
	if err == nil || !strings.Contains(err.Error(), `unknown action "deplo"`) || !strings.Contains(err.Error(), `"scale" has no keys`) {
		t.Fatalf("error %v", err)
	}
	if !key.Matches(keytest.Press("h"), k.Help) {
		t.Error("valid entries are applied despite errors")
	}
	if len(Names()) != 27 {
		t.Errorf("names %v", Names())
	}
}

// TestConfigAcceptsEveryAction: `opsdeck config check` accepts exactly the actions Apply
// rebinds, so every key the console has can be rebound from the file.
func TestConfigAcceptsEveryAction(t *testing.T) {
	got := slices.Sorted(slices.Values(config.KeyActions))
	if !slices.Equal(got, Names()) {
		t.Fatalf("config.KeyActions %v\nkeys.Names       %v", got, Names())
	}
	c := config.Default()
	c.Keys = map[string][]string{"up": {"i"}, "next-pod": {"n"}, "sort": {"O"}}
	if errs := c.Validate(); len(errs) != 0 {
		t.Fatalf("valid overrides refused: %v", errs)
	}
}
