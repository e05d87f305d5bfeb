package document

import (
	"fmt"
	"strings"
)

// SyntaxError is a syntax or shape error in document text. Line and Column are
// 1-based and point at the place where the problem shows.
type SyntaxError struct {
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

func syntaxErrorAt(p Pos, format string, args ...any) *SyntaxError {
	line, col := p.Line, p.Column
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	return &SyntaxError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// Severity tells whether a Problem stops the document (an error) or only
// reports something SSM accepts but that the author may not mean (a warning).
type Severity int

const (
	// SeverityError: SSM refuses the document or the value, or the run could
	// not do what it says. The zero value, so a Problem is an error unless
	// marked otherwise.
	SeverityError Severity = iota
	// SeverityWarning: SSM accepts it, usually by converting a value (the
	// text "true" where a boolean belongs, "5" for an integer); the run goes
	// on as SSM's would.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Problem is one finding of Validate or ParameterValues.
type Problem struct {
	Severity  Severity // SeverityError unless set
	Step      string   // step name; empty when not about a step
	StepIndex int      // index in MainSteps; -1 when not about a step
	Path      []string // e.g. ["inputs", "ImageId"], ["onFailure"], ["parameters", "x", "allowedPattern"]
	Message   string
	Pos       Pos // zero when unknown (documents built from HCL)
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Pos.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", p.Pos.Line, p.Pos.Column)
	}
	if p.StepIndex >= 0 && p.Step != "" {
		fmt.Fprintf(&b, "step %s: ", QuoteValue(p.Step))
	} else if p.StepIndex >= 0 {
		fmt.Fprintf(&b, "step %d: ", p.StepIndex+1)
	}
	if len(p.Path) > 0 {
		for i, e := range p.Path {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(quoteIfLong(e))
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// IsWarning reports whether the problem is only a warning.
func (p Problem) IsWarning() bool { return p.Severity == SeverityWarning }

// Errors returns the problems that are errors, in order.
func Errors(problems []Problem) []Problem {
	return filterProblems(problems, SeverityError)
}

// Warnings returns the problems that are warnings, in order.
func Warnings(problems []Problem) []Problem {
	return filterProblems(problems, SeverityWarning)
}

func filterProblems(problems []Problem, s Severity) []Problem {
	var out []Problem
	for _, p := range problems {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}
