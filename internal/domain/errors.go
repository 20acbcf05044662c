package domain

import "errors"

// Errors that callers of the executor tell apart with errors.Is.
var (
	// ErrConflict: the service changed since the caller looked (another opsdeck or a human
	// acted first). The guard treats it as "someone else acted".
	ErrConflict = errors.New("conflict")
	// ErrReadOnly: opsdeck runs with --readonly.
	ErrReadOnly = errors.New("read-only mode")
)
