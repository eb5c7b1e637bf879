// Package recursive declares events whose result types refer to themselves, directly or through
// another type.
package recursive

import "github.com/typedbus/abxbus-go/abxbus"

type Node struct {
	Name  string `json:"name"`
	Child *Node  `json:"child"`
}

type Tree struct {
	Label    string `json:"label"`
	Children []Tree `json:"children"`
}

type Dept struct {
	Name  string     `json:"name"`
	Staff []Employee `json:"staff"`
}

type Employee struct {
	Name string `json:"name"`
	Dept *Dept  `json:"dept,omitempty"`
}

type Org struct {
	Top   Dept            `json:"top"`
	Index map[string]Dept `json:"index"`
}

type GetNode struct {
	abxbus.Returns[Node]
}

type GetTree struct {
	abxbus.Returns[Tree]
}

type GetDept struct {
	abxbus.Returns[Dept]
}

type GetOrg struct {
	abxbus.Returns[Org]
}

type GetNodes struct {
	abxbus.Returns[[]Node]
}
