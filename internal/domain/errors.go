package domain

import (
	"errors"
	"fmt"
)

// Errors that callers of the executor tell apart with errors.Is.
var (
	// ErrConflict: the service changed since the caller looked (another opsdeck or a human
	// acted first). The guard treats it as "someone else acted".
	ErrConflict = errors.New("conflict")
	// ErrReadOnly: opsdeck runs with --readonly.
	ErrReadOnly = errors.New("read-only mode")
	// ErrUnreachable: the API server did not answer (connection refused, timeout, 5xx), so
	// nothing is known to have changed. The guard judges again once it answers, instead of
	// holding the service as after a refusal.
	ErrUnreachable = errors.New("API server unreachable")
)

// ReadOnlyRefusal is the one wording of an action refused because opsdeck runs with --readonly:
// the executor returns it, and the console shows it before asking anything.
func ReadOnlyRefusal(kind ActionKind, service string) error {
	return fmt.Errorf("%w: refusing to %s %s (started with --readonly)", ErrReadOnly, kind, service)
}

// StoodDownError is the error of a guard action that found its work already done by someone
// else (another guard won the race): not a failure, it wraps ErrConflict and says who and when.
type StoodDownError struct {
	By LastAction
	// What the executor found, e.g. "order-service is at revision 3, not 2".
	What string
}

func (e *StoodDownError) Error() string {
	return "stood down: already done by " + e.By.Who() + " (" + e.What + ")"
}

// Is makes errors.Is(err, ErrConflict) hold.
func (e *StoodDownError) Is(target error) bool { return target == ErrConflict }
