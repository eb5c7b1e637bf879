// Package service_directives misplaces and misspells the service directives.
package service_directives

import (
	"context"

	"github.com/typedbus/abxbus-go/abxbus"
)

//abxbus:service type=billing
type Typed interface {
	A(ctx context.Context) error
}

//abxbus:service timout=5s
type Misspelled interface {
	// B has a method directive without options.
	//abxbus:method
	B(ctx context.Context) error
	// C names a bad event type.
	//abxbus:method type=_c
	C(ctx context.Context) error
}

//abxbus:method timeout=1s
type Stray struct {
	abxbus.Returns[int]
}

//abxbus:servce
type Typo interface {
	D(ctx context.Context) error
}

// Wire names clash with a declared event too.
//
//abxbus:service
type Dup interface {
	//abxbus:method type=shared
	A(ctx context.Context) error
}

type Other struct {
	abxbus.Returns[int] `abxbus:"type=shared"`
}
