//go:build !faults

package actions

// A release binary holds no action: the game days' fault hooks exist only with -tags faults
// (faults.go).
const (
	faultHoldAfterIntent   = ""
	faultHoldBeforeOutcome = ""
)

func holdForFault(string) {}
