// Package service_shapes holds service interfaces whose methods the generator cannot turn into
// events; each problem is reported at its position.
package service_shapes

import (
	"context"
	"io"
)

type Request struct {
	Name string `json:"name"`
}

//abxbus:service
type Shapes interface {
	Variadic(ctx context.Context, names ...string) error
	NoContext(name string) error
	NoResults(ctx context.Context)
	ThreeResults(ctx context.Context) (int, string, error)
	LastNotError(ctx context.Context) (int, string)
	Channel(ctx context.Context, ch chan int) error
	Func(ctx context.Context, fn func()) error
	Unnamed(ctx context.Context, _ string, _ int) error
	Reserved(ctx context.Context, now int) error
	CallID(ctx context.Context, abxbus_call_id string) error
	NoJSON(ctx context.Context, c complex128) error
	BadResult(ctx context.Context) (chan int, error)
	ServiceClient(ctx context.Context) error
	unexported(ctx context.Context) error
	Fine(ctx context.Context, req Request) (string, error)
}

//abxbus:service
type Generic[T any] interface {
	Get(ctx context.Context) (T, error)
}

//abxbus:service
type Foreign interface {
	io.Closer
	Fine(ctx context.Context) error
}

//abxbus:service
type Constraint interface {
	~int | ~string
}

//abxbus:service
type Empty interface{}

//abxbus:service
type NotAnInterface struct{}
