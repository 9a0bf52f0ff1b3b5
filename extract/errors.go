package extract

import "fmt"

// RuleError is a problem with one part of one rule, found by Compile.
// internal/config turns it into a diagnostic on the attribute that Part names.
type RuleError struct {
	Source, Rule string
	// Part names what is wrong, in the rules file's own words:
	// "regex", "time.from", "time.layout", "time.location", "tags.<key>",
	// "fields.<key>", "require.<name>", "aggregate", or "rewrite.<n>",
	// "rewrite.<n>.regex", "rewrite.<n>.replace" for the n-th rewrite
	// block of the rule (from 1).
	Part string
	Err  error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("source %q rule %q: %s: %v", e.Source, e.Rule, e.Part, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }
