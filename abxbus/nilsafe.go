package abxbus

import "fmt"

// Nil and zero values. No method of this package panics on a nil receiver or on a zero value that was
// not made by its constructor: methods that return an error report one (wrapping ErrInvalidOption),
// the others return zero values. A Bus must come from New (or BusFromJSON), an event from
// NewBaseEvent, NewEvent or FromJSON; a Handler and an EventResult come from a bus.

// usable reports whether b was made by New.
func (b *Bus) usable() bool { return b != nil && b.made }

// unusable is the error for op on a nil *Bus or a Bus not made by New, or nil for a usable bus.
func (b *Bus) unusable(op string) error {
	switch {
	case b == nil:
		return fmt.Errorf("%w: %s on a nil *Bus (create buses with abxbus.New)", ErrInvalidOption, op)
	case !b.made:
		return fmt.Errorf("%w: %s on a Bus that was not created by abxbus.New (the zero Bus is not usable)", ErrInvalidOption, op)
	}
	return nil
}

// unusable is the error for op on a nil event or a zero BaseEvent (every constructed event has a type).
func (e *BaseEvent) unusable(op string) error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: %s on a nil event", ErrInvalidOption, op)
	case e.eventType == "":
		return fmt.Errorf("%w: %s on an event that was not created by NewBaseEvent, NewEvent or FromJSON (the zero BaseEvent is not usable)", ErrInvalidOption, op)
	}
	return nil
}

// unusable is the error for op on a nil *Handler or one that no bus registered.
func (h *Handler) unusable(op string) error {
	switch {
	case h == nil:
		return fmt.Errorf("%w: %s on a nil *Handler", ErrInvalidOption, op)
	case h.bus == nil:
		return fmt.Errorf("%w: %s on a Handler that was not registered on a bus (use On or Bus.OnType)", ErrInvalidOption, op)
	}
	return nil
}

// errResultUnattached is the error for op on a nil *EventResult or one that belongs to no event.
func errResultUnattached(op string) error {
	return fmt.Errorf("%w: %s on a nil EventResult or one that belongs to no event", ErrInvalidOption, op)
}
