package domain

// Plan is what the executor will do for one action, decided from what it read and before
// anything changes: the console and the CLI show its Sentence, ask, and execute this plan.
type Plan struct {
	// Action is the action planned, as asked.
	Action Action
	// Sentence is the one line a person confirms, e.g. "deploy web: web:v1 -> web:v2
	// (revision 1 -> 2)"; shown verbatim by the console and the CLI. When Skipped it says why
	// nothing would change.
	Sentence string
	// Skipped is set when the action would change nothing (the image already runs...).
	Skipped bool
	// Precondition is the state the plan was read at: executing the plan fails with
	// ErrConflict, changing nothing, when the service no longer matches it.
	Precondition Precondition
	// Preview is the result the plan expects: from and to revision and image, the kind of
	// service, a blue-green switch started or made.
	Preview Result
}

// Confirmed is the action that executes exactly this plan: the executor plans it again and
// refuses it as a conflict when what it reads no longer matches the plan's preconditions
// (revision, generation, image, colour, the blue-green Service's resourceVersion) or when it
// would now do something other than the sentence confirmed.
func (p Plan) Confirmed() Action {
	a := p.Action
	x := p.Precondition
	x.Sentence = p.Sentence
	a.Expect = &x
	return a
}
