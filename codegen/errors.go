package codegen

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// Error is one problem in a declaration, reported as `file:line:col: reason`. The file name is the
// package directory as given to the generator joined with the file's base name.
type Error struct {
	Pos    token.Position
	Reason string
}

func (e *Error) Error() string {
	if !e.Pos.IsValid() {
		return e.Reason
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Pos.Filename, e.Pos.Line, e.Pos.Column, e.Reason)
}

// ErrorList is every problem found in one run, sorted by position. A generator run that finds any
// writes nothing.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap gives errors.As access to each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l
}
