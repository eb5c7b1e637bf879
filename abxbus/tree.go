package abxbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LogTree renders this bus's retained history as a causality tree and returns it; it does
// not log it (hand it to your logger or print it). Root events are the retained events whose parent is
// not retained on this bus, in event_created_at order; under each event come its handler results, each
// followed by the children that handler emitted, then the event's children not attributable to a
// handler. Example (times and ids vary):
//
//	📊 Event History Tree for ShopBus#0a1b
//	================================================================================
//	└── ✅ Checkout#b7c7 [10:10:54.522 (0.003s)]
//	    └── ✅ ShopBus#0a1b.onCheckout#7a12 [10:10:54.522 (0.002s)] → dict(4 items)
//	        ├── ✅ ReserveInventory#ca2f [10:10:54.522 (0.000s)]
//	        │   └── ✅ ShopBus#0a1b.onReserve#1583 [10:10:54.522 (0.000s)] → "res-1"
//	        └── ✅ ChargeCard#b746 [10:10:54.523 (0.000s)]
//	            └── ❌ ShopBus#0a1b.onCharge#7d9c [10:10:54.523 (0.000s)] ☠️ CardDeclined: card declined
//	================================================================================
//
// Event lines: status icon (✅ completed, 🏃 started, ⏳ pending), `Type#<last 4 of event_id>`, the
// creation time (UTC, HH:MM:SS.mmm) and, once completed, the duration since creation. Result lines: icon
// (✅ completed; ❌ error; 🚫 cancelled or aborted by a timeout, a first-completion winner, a parent or a
// destroy; 🏃 started; ⏳ pending), `<bus label>.<handler name>#<last 4 of handler id>`, the start time
// and duration once started, then ` → <value>` when completed or ` ☠️ <ErrorType>: <message>` on error.
// The error type tells a handler that hit its own timeout (EventHandlerTimeoutError) from one
// interrupted by the event's deadline (EventHandlerAbortedError) or never started
// (EventHandlerCancelledError). Values: strings quoted as JSON, numbers and booleans as is, objects as
// `dict(N items)`, arrays as `list(N items)`, a returned event as `Event(Type#abcd)`, null as `None` (the tree format every abxbus runtime prints).
//
// An empty history renders as "(No events in history)". Each event is expanded once; a repeat shows only
// its line. Cost: O(history x results); takes locks briefly, runs no user code except the payload's or
// result's JSON encoding (MarshalJSON) used to size objects. Safe for concurrent use, also while events
// are in flight (the tree is a snapshot).
func (b *Bus) LogTree() string {
	if !b.usable() {
		return ""
	}
	events := b.History()
	retained := make(map[ID]bool, len(events))
	for _, e := range events {
		retained[e.id] = true
	}
	var roots []*BaseEvent
	for _, e := range events {
		if p := e.ParentID(); p.IsZero() || p == e.id || !retained[p] {
			roots = append(roots, e)
		}
	}
	if len(roots) == 0 {
		return "(No events in history)"
	}
	slices.SortStableFunc(roots, func(x, y *BaseEvent) int { return cmpInt64(x.createdAt, y.createdAt) })
	var w treeWriter
	w.visited = map[*BaseEvent]bool{}
	w.buf.WriteString("📊 Event History Tree for " + b.label + "\n")
	w.buf.WriteString(treeRule + "\n")
	for i, e := range roots {
		w.event(e, "", i == len(roots)-1)
	}
	w.buf.WriteString(treeRule)
	return w.buf.String()
}

// LogTree renders this event and everything it caused (its handler results on every bus it reached, the
// children they emitted, recursively) in the shape of Bus.LogTree, without the header: the first line
// is `└── <icon> Type#abcd [...]`. It needs no bus: it follows the in-process links of the event.
func (e *BaseEvent) LogTree() string {
	if e == nil {
		return ""
	}
	var w treeWriter
	w.visited = map[*BaseEvent]bool{}
	w.event(e, "", true)
	return strings.TrimSuffix(w.buf.String(), "\n")
}

// LogTreeOf renders events that are not linked in this process (decoded from a WAL, a JSONL bridge file
// or other JSON) as a causality tree in the format of Bus.LogTree, with header "📊 Event History Tree
// for <title>". The events are linked by their ids: an event's parent is the listed event named by its
// event_parent_id, a handler's children are the listed events its result's event_children names, then
// the listed children it emitted (event_emitted_by_handler_id) not named there; the rest of an event's
// children follow its results. An id listed more than once stands for its last occurrence (a WAL holds
// one line per bus an event completed on; the last is the most complete). Roots are the events whose
// parent is not listed, in event_created_at order; nil entries are skipped. In-process links (events
// that are live here) are followed too. An empty list renders as "(No events in history)".
func LogTreeOf(title string, events []*BaseEvent) string {
	w := treeWriter{visited: map[*BaseEvent]bool{}, ids: map[ID]*BaseEvent{}, kids: map[ID][]*BaseEvent{}}
	var order []*BaseEvent
	for _, e := range events {
		if e == nil || e.id.IsZero() {
			continue
		}
		if _, dup := w.ids[e.id]; !dup {
			order = append(order, e)
		}
		w.ids[e.id] = e
	}
	for i, e := range order {
		order[i] = w.ids[e.id]
	}
	slices.SortStableFunc(order, func(x, y *BaseEvent) int { return cmpInt64(x.createdAt, y.createdAt) })
	var roots []*BaseEvent
	for _, e := range order {
		if p := e.ParentID(); p.IsZero() || p == e.id || w.ids[p] == nil {
			roots = append(roots, e)
		} else {
			w.kids[p] = append(w.kids[p], e)
		}
	}
	if len(roots) == 0 {
		return "(No events in history)"
	}
	w.buf.WriteString("📊 Event History Tree for " + title + "\n")
	w.buf.WriteString(treeRule + "\n")
	for i, e := range roots {
		w.event(e, "", i == len(roots)-1)
	}
	w.buf.WriteString(treeRule)
	return w.buf.String()
}

const treeRule = "================================================================================"

type treeWriter struct {
	buf     bytes.Buffer
	visited map[*BaseEvent]bool
	// set by LogTreeOf: the listed events by id and by parent id (creation order)
	ids  map[ID]*BaseEvent
	kids map[ID][]*BaseEvent
}

// linkByIDs adds to rows and loose the listed children of e that in-process links do not give
// (LogTreeOf); e.mu held.
func (w *treeWriter) linkByIDs(e *BaseEvent, rows []treeRow, loose []*BaseEvent) []*BaseEvent {
	claimed := map[*BaseEvent]bool{}
	for i := range rows {
		for _, c := range rows[i].children {
			claimed[c] = true
		}
		if wire := rows[i].res.wire; wire != nil {
			for _, id := range wire.childIDs {
				if c := w.ids[id]; c != nil && !claimed[c] && c != e {
					rows[i].children = append(rows[i].children, c)
					claimed[c] = true
				}
			}
		}
	}
	for _, c := range loose {
		claimed[c] = true
	}
	for _, c := range w.kids[e.id] {
		if claimed[c] {
			continue
		}
		claimed[c] = true
		by := c.EmittedByHandlerID()
		i := slices.IndexFunc(rows, func(r treeRow) bool { return !by.IsZero() && r.res.handler != nil && r.res.handler.id == by })
		if i >= 0 {
			rows[i].children = append(rows[i].children, c)
		} else {
			loose = append(loose, c)
		}
	}
	return loose
}

type treeRow struct {
	res      *EventResult
	status   resStatus
	value    any
	null     bool
	err      error
	started  int64
	done     int64
	children []*BaseEvent
}

// event writes one event line and, the first time the event is met, its results and children.
func (w *treeWriter) event(e *BaseEvent, indent string, last bool) {
	e.mu.Lock()
	status, created, completed := e.status.public(), e.createdAt, e.completedAt
	results := e.orderedResultsLocked()
	rows := make([]treeRow, len(results))
	fromHandlers := map[*BaseEvent]bool{}
	for i, r := range results {
		rows[i] = treeRow{res: r, status: r.status, value: r.value, null: r.null, err: r.err,
			started: r.startedAt, done: r.completedAt, children: slices.Clone(r.children())}
		for _, c := range r.children() {
			fromHandlers[c] = true
		}
	}
	var loose []*BaseEvent // children no handler result claims (emitted by a handler on no row, or restored)
	for _, c := range e.xr().children {
		if !fromHandlers[c] {
			loose = append(loose, c)
		}
	}
	if w.ids != nil {
		loose = w.linkByIDs(e, rows, loose)
	}
	e.mu.Unlock()

	w.buf.WriteString(indent + treeConnector(last) + eventIcon(status) + " " + e.label() + " [" + clockTime(created))
	if status == EventCompleted && completed != 0 {
		w.buf.WriteString(" (" + treeSeconds(completed-created) + ")")
	}
	w.buf.WriteString("]\n")
	if w.visited[e] {
		return
	}
	w.visited[e] = true
	inner := indent + treeIndent(last)
	n := len(rows) + len(loose)
	for i := range rows {
		w.result(&rows[i], inner, i == n-1)
	}
	for i, c := range loose {
		w.event(c, inner, len(rows)+i == n-1)
	}
}

func (w *treeWriter) result(row *treeRow, indent string, last bool) {
	r := row.res
	w.buf.WriteString(indent + treeConnector(last) + resultIcon(row.status, row.err) + " " + r.busLabel() + "." + r.handler.Label())
	if row.started != 0 {
		w.buf.WriteString(" [" + clockTime(row.started))
		if row.done != 0 {
			w.buf.WriteString(" (" + treeSeconds(row.done-row.started) + ")")
		}
		w.buf.WriteString("]")
	}
	switch {
	case row.status == rsError && row.err != nil:
		typ := ErrorType(row.err)
		w.buf.WriteString(" ☠️ " + typ + ": " + oneLine(strings.TrimPrefix(row.err.Error(), typ+": ")))
	case row.status == rsCompleted:
		w.buf.WriteString(" → " + formatTreeValue(row.value, row.null))
	}
	w.buf.WriteString("\n")
	inner := indent + treeIndent(last)
	for i, c := range row.children {
		w.event(c, inner, i == len(row.children)-1)
	}
}

func treeConnector(last bool) string {
	if last {
		return "└── "
	}
	return "├── "
}

func treeIndent(last bool) string {
	if last {
		return "    "
	}
	return "│   "
}

func eventIcon(s EventStatus) string {
	switch s {
	case EventCompleted:
		return "✅"
	case EventStarted:
		return "🏃"
	}
	return "⏳"
}

func resultIcon(s resStatus, err error) string {
	switch s {
	case rsCompleted:
		return "✅"
	case rsError:
		if errors.Is(err, ErrHandlerCancelled) || errors.Is(err, ErrHandlerAborted) {
			return "🚫"
		}
		return "❌"
	case rsStarted:
		return "🏃"
	}
	return "⏳"
}

// clockTime is the UTC wall-clock time of a Unix-ns timestamp as HH:MM:SS.mmm.
func clockTime(ns int64) string {
	if ns == 0 {
		return "N/A"
	}
	return time.Unix(0, ns).UTC().Format("15:04:05.000")
}

func treeSeconds(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64) + "s"
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// formatTreeValue renders a result value by its JSON shape (F207).
func formatTreeValue(v any, null bool) string {
	if v == nil || null {
		return "None"
	}
	if e, ok := v.(*BaseEvent); ok {
		return "Event(" + e.label() + ")"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	raw := bytes.TrimSpace(buf.Bytes())
	if err != nil || len(raw) == 0 {
		return reflect.TypeOf(v).String() + "(...)"
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			return fmt.Sprintf("dict(%d items)", len(m))
		}
	case '[':
		var l []json.RawMessage
		if json.Unmarshal(raw, &l) == nil {
			return fmt.Sprintf("list(%d items)", len(l))
		}
	case 'n':
		return "None"
	}
	return string(raw)
}
