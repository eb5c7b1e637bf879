package abxbus

import (
	"fmt"
	"maps"
	"reflect"
)

// One event type name, one Go type per bus: a bus binds an event type name to the Go payload type of
// the first typed handler registered for it or the first typed event emitted under it, for the bus's
// lifetime. A typed handler of another Go type would otherwise run on those events with a payload
// converted through JSON (zeroed where the fields differ). Untyped handlers and untyped events are not
// bound: an untyped event of a bound name is decoded into the bound type by its typed handlers.

// typeBindings maps event type names to the typed declaration a bus carries under that name. It is
// copy-on-write: readers load it without a lock, writers replace it under Bus.mu.
type typeBindings = map[string]*typeInfo

// goTypeName names a Go type with its full package path ("example.com/shop.Created").
func goTypeName(t reflect.Type) string {
	if t.PkgPath() == "" || t.Name() == "" {
		return t.String()
	}
	return t.PkgPath() + "." + t.Name()
}

// bindingConflict is the error for a second Go type claiming an event type name on b.
func (b *Bus) bindingConflict(op string, bound, info *typeInfo) error {
	return fmt.Errorf("%w: %s: event type %q is bound on bus %s to Go type %s, not %s (two Go types cannot share an event type name on one bus; give one of them another name with an EventSpec Type)",
		ErrInvalidOption, op, info.eventType, b.label, goTypeName(bound.payloadType), goTypeName(info.payloadType))
}

// boundTo returns the declaration bound to name on b, without a lock.
func (b *Bus) boundTo(name string) *typeInfo {
	if m := b.bound.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// bindLocked binds info's event type name on b unless another Go type holds it; it returns the
// conflicting declaration, or nil. b.mu is held.
func (b *Bus) bindLocked(info *typeInfo) *typeInfo {
	old := b.bound.Load()
	if old != nil {
		if bound := (*old)[info.eventType]; bound != nil {
			if bound.payloadType == info.payloadType {
				return nil
			}
			return bound
		}
	}
	var next typeBindings
	if old != nil {
		next = maps.Clone(*old)
	} else {
		next = typeBindings{}
	}
	next[info.eventType] = info
	b.bound.Store(&next)
	return nil
}

// checkBinding is the emit-side check: a typed event binds its name on b like a typed registration,
// and is refused when another Go type holds the name. The common case (already bound to the same type)
// takes no lock.
func (b *Bus) checkBinding(e *BaseEvent) error {
	info := e.info
	if info == nil {
		return nil
	}
	bound := b.boundTo(info.eventType)
	if bound == nil {
		b.mu.Lock()
		bound = b.bindLocked(info)
		b.mu.Unlock()
	}
	if bound == nil || bound.payloadType == info.payloadType {
		return nil
	}
	return b.reject(e, b.bindingConflict("Emit("+e.label()+")", bound, info))
}
