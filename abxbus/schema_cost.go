package abxbus

import (
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Bounding the time a foreign schema can take to check a value.
//
// A small schema can make the validator evaluate exponentially many subschemas: anyOf/allOf chains that
// apply the same subschema twice at every level cost 2^n on one value, and such a fan-out inside a
// recursive array or object schema costs 2^depth on a nested value. Before a value is validated, an
// upper bound on the number of subschema evaluations is derived from the compiled schema and the shape
// of the value; a check whose bound is over maxSchemaEvaluations plus perValueEvaluations for each JSON
// value in the result is refused with an error instead of run (so ordinary schemas, which apply a few
// subschemas per value, check results of any size, and the time a hostile schema can take is
// proportional to the size of the result). The bound counts, per nesting level of the value, the subschemas that can apply to one value at
// that level (the alternatives of a $dynamicRef count once, by the largest; an enum counts one more per
// listed value), times the number of values at that level. Computing it costs O(subschemas) per level
// of the deepest value seen, done once per schema and level (levels repeat quickly for recursive
// schemas and are then not recomputed), and at most maxCostWork node visits per schema.
const (
	maxSchemaEvaluations = 1 << 16
	perValueEvaluations  = 256
	costCap              = uint64(1) << 60 // saturation of the bound arithmetic
	maxCostWork          = 1 << 26         // node visits spent computing bounds for one schema
)

// costNode is one compiled subschema with the subschemas it applies, by how they apply.
type costNode struct {
	weight uint64  // cost of its own keywords (1, plus one per 8 enum values)
	same   []int   // applied to the same value, all of them
	groups [][]int // applied to the same value, one of each group ($dynamicRef, $recursiveRef targets)
	objMax []int   // applied to a member of an object value, at most one of them per member
	objSum []int   // applied to members of an object value, possibly all
	arrMax []int   // applied to an item of an array value, at most one of them per item
	arrSum []int   // applied to items of an array value, possibly all
}

// schemaCost is the cost model of one compiled schema: per depth d, the bound on evaluations of one
// value at depth d (root at 0), extended on demand.
type schemaCost struct {
	mu     sync.Mutex
	nodes  []costNode
	root   int
	prev   []uint64   // the per-node bound at the deepest computed depth
	hist   [][]uint64 // the last few per-node vectors, for detecting a repeating pattern
	atRoot []uint64   // bound for the root subschema at depth d
	period int        // > 0 once the vectors repeat with this period from len(atRoot)-period on
	work   int
	broken bool // maxCostWork spent
}

func newSchemaCost(root *jsonschema.Schema) *schemaCost {
	c := &schemaCost{}
	index := map[*jsonschema.Schema]int{}
	var order []*jsonschema.Schema
	add := func(s *jsonschema.Schema) int {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = len(order)
		order = append(order, s)
		return index[s]
	}
	add(root)
	// Breadth-first over every subschema reachable from the root.
	var dyn []struct {
		i      int
		static *jsonschema.Schema
		anchor string
		rec    bool
	}
	c.nodes = append(c.nodes, costNode{})
	for q := 0; q < len(order); q++ {
		s := order[q]
		n := costNode{weight: 1}
		if s.Enum != nil {
			n.weight += uint64(len(s.Enum.Values) / 8) // a comparison costs far less than an evaluation
		}
		ids := func(list ...*jsonschema.Schema) []int {
			var out []int
			for _, x := range list {
				if x != nil {
					out = append(out, add(x))
				}
			}
			return out
		}
		n.same = ids(s.Ref, s.Not, s.If, s.Then, s.Else)
		n.same = append(n.same, ids(s.AllOf...)...)
		n.same = append(n.same, ids(s.AnyOf...)...)
		n.same = append(n.same, ids(s.OneOf...)...)
		for _, x := range s.DependentSchemas {
			n.same = append(n.same, ids(x)...)
		}
		for _, x := range s.Dependencies {
			if x, ok := x.(*jsonschema.Schema); ok {
				n.same = append(n.same, ids(x)...)
			}
		}
		if s.DynamicRef != nil {
			dyn = append(dyn, struct {
				i      int
				static *jsonschema.Schema
				anchor string
				rec    bool
			}{q, s.DynamicRef.Ref, s.DynamicRef.Anchor, false})
			ids(s.DynamicRef.Ref)
		}
		if s.RecursiveRef != nil {
			dyn = append(dyn, struct {
				i      int
				static *jsonschema.Schema
				anchor string
				rec    bool
			}{q, s.RecursiveRef, "", true})
			ids(s.RecursiveRef)
		}
		for _, x := range s.Properties {
			n.objMax = append(n.objMax, ids(x)...)
		}
		if x, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
			n.objMax = append(n.objMax, ids(x)...)
		}
		for _, x := range s.PatternProperties {
			n.objSum = append(n.objSum, ids(x)...)
		}
		n.objSum = append(n.objSum, ids(s.UnevaluatedProperties, s.PropertyNames)...)
		n.arrMax = ids(s.PrefixItems...)
		n.arrMax = append(n.arrMax, ids(s.Items2020)...)
		switch x := s.Items.(type) {
		case *jsonschema.Schema:
			n.arrMax = append(n.arrMax, ids(x)...)
		case []*jsonschema.Schema:
			n.arrMax = append(n.arrMax, ids(x...)...)
		}
		if x, ok := s.AdditionalItems.(*jsonschema.Schema); ok {
			n.arrMax = append(n.arrMax, ids(x)...)
		}
		n.arrSum = ids(s.Contains, s.UnevaluatedItems)
		for len(c.nodes) < len(order) {
			c.nodes = append(c.nodes, costNode{})
		}
		c.nodes[q] = n
	}
	// A $dynamicRef may land on any subschema declaring its anchor, a $recursiveRef on any declaring
	// $recursiveAnchor; only one of them is evaluated.
	for _, d := range dyn {
		g := []int{index[d.static]}
		for j, s := range order {
			if d.rec && s.RecursiveAnchor || !d.rec && d.anchor != "" && s.DynamicAnchor == d.anchor {
				g = append(g, j)
			}
		}
		c.nodes[d.i].groups = append(c.nodes[d.i].groups, g)
	}
	return c
}

func satAdd(a, b uint64) uint64 {
	if a+b < a || a+b > costCap {
		return costCap
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > costCap/a {
		return costCap
	}
	return a * b
}

// level computes the per-node bound vector for one depth. For depth 0 a value is evaluated by the node
// and everything applied to the same value (desc nil); deeper, only by what descends into it from the
// level above (desc gives, per node, the bound contributed by its own object or array keywords).
func (c *schemaCost) level(desc func(i int) uint64, base uint64) []uint64 {
	// base: what a same-value cycle adds (the validator stops it at once)
	out := make([]uint64, len(c.nodes))
	state := make([]uint8, len(c.nodes)) // 0 new, 1 on stack, 2 done
	var visit func(i int) uint64
	visit = func(i int) uint64 {
		switch state[i] {
		case 1:
			return base // a cycle on the same value: the validator stops it
		case 2:
			return out[i]
		}
		state[i] = 1
		c.work++
		n := &c.nodes[i]
		v := n.weight
		if desc != nil {
			v = desc(i)
		}
		for _, j := range n.same {
			v = satAdd(v, visit(j))
		}
		for _, g := range n.groups {
			var m uint64
			for _, j := range g {
				m = max(m, visit(j))
			}
			v = satAdd(v, m)
		}
		out[i], state[i] = v, 2
		return v
	}
	for i := range c.nodes {
		visit(i)
	}
	return out
}

func equalVec(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rootAt returns the bound for one value at depth d, and false when computing it costs too much.
func (c *schemaCost) rootAt(d int) (uint64, bool) {
	if c.atRoot == nil {
		c.prev = c.level(nil, 1)
		c.hist = [][]uint64{c.prev}
		c.atRoot = []uint64{c.prev[c.root]}
	}
	for len(c.atRoot) <= d && c.period == 0 && !c.broken {
		prev := c.prev
		maxOf := func(list []int) uint64 {
			var m uint64
			for _, j := range list {
				m = max(m, prev[j])
			}
			return m
		}
		sumOf := func(list []int) uint64 {
			var s uint64
			for _, j := range list {
				s = satAdd(s, prev[j])
			}
			return s
		}
		// A value is an object or an array, not both: take the larger of the two ways in, separately
		// through the whole same-value closure.
		obj := c.level(func(i int) uint64 { n := &c.nodes[i]; return satAdd(maxOf(n.objMax), sumOf(n.objSum)) }, 0)
		arr := c.level(func(i int) uint64 { n := &c.nodes[i]; return satAdd(maxOf(n.arrMax), sumOf(n.arrSum)) }, 0)
		next := make([]uint64, len(c.nodes))
		for i := range next {
			next[i] = max(obj[i], arr[i])
		}
		c.prev = next
		c.atRoot = append(c.atRoot, next[c.root])
		for p := 1; p <= len(c.hist); p++ {
			if equalVec(next, c.hist[len(c.hist)-p]) {
				c.period = p
				break
			}
		}
		c.hist = append(c.hist, next)
		if len(c.hist) > 4 {
			c.hist = c.hist[1:]
		}
		if c.work > maxCostWork {
			c.broken = true
		}
	}
	if d < len(c.atRoot) {
		return c.atRoot[d], true
	}
	if c.period > 0 {
		last := len(c.atRoot) - 1 // the vector at depth last equals the one at last-period
		return c.atRoot[last-c.period+(d-last)%c.period], true
	}
	return 0, false
}

// instanceShape counts the JSON values of inst at each nesting depth.
func instanceShape(inst any) []uint64 {
	var counts []uint64
	var walk func(v any, d int)
	walk = func(v any, d int) {
		if d == len(counts) {
			counts = append(counts, 0)
		}
		counts[d]++
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x, d+1)
			}
		case []any:
			for _, x := range v {
				walk(x, d+1)
			}
		}
	}
	walk(inst, 0)
	return counts
}

// checkCost refuses a validation whose bound on subschema evaluations is over maxSchemaEvaluations.
func (c *schemaCost) checkCost(subject string, inst any) error {
	counts := instanceShape(inst)
	c.mu.Lock()
	defer c.mu.Unlock()
	var values uint64
	for _, n := range counts {
		values += n
	}
	limit := satAdd(maxSchemaEvaluations, satMul(perValueEvaluations, values))
	var total uint64
	for d, n := range counts {
		per, ok := c.rootAt(d)
		if !ok {
			return fmt.Errorf("%w: %s is too costly to check a value nested %d deep", ErrInvalidOption, subject, len(counts)-1)
		}
		total = satAdd(total, satMul(n, per))
		if total > limit {
			return fmt.Errorf("%w: %s is too costly to check this value: it may take more than %d subschema evaluations for its %d JSON values",
				ErrInvalidOption, subject, limit, values)
		}
	}
	return nil
}
