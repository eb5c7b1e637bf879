package bad_option_value

import "github.com/typedbus/abxbus-go/abxbus"

type BadDuration struct {
	abxbus.Returns[string] `abxbus:"timeout=5"`
}

type NegativeDuration struct {
	abxbus.Returns[string] `abxbus:"handler_timeout=-1s"`
}

type BadEnum struct {
	abxbus.Returns[string] `abxbus:"concurrency=serial,handler_concurrency=global-serial,completion=any"`
}

type BadTypeName struct {
	abxbus.Returns[string] `abxbus:"type=has space"`
}

type StarType struct {
	abxbus.Returns[string] `abxbus:"type=*"`
}

type UnderscoreType struct {
	abxbus.Returns[string] `abxbus:"type=_private"`
}

type BadVersion struct {
	abxbus.Returns[string] `abxbus:"version=1 2"`
}

type MissingValue struct {
	abxbus.Returns[string] `abxbus:"timeout,completion="`
}

type Twice struct {
	abxbus.Returns[string] `abxbus:"timeout=1s,timeout=2s"`
}

type EmptyItem struct {
	abxbus.Returns[string] `abxbus:"timeout=1s,,completion=all"`
}

type Malformed struct {
	abxbus.Returns[string] `abxbus:timeout=1s`
}
