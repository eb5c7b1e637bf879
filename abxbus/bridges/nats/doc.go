// Package nats is the NATS bridge of abxbus, in two modes on one connection type.
//
// Core (the default) speaks exactly what the TypeScript NATSEventBridge of abxbus@2.5.56 speaks: a
// core NATS PUB of the compact event JSON on the subject, without headers or reply subject, and a
// plain SUB (no queue group) on the same subject. Go and TS processes on one subject therefore see each
// other's events. Like the TS bridge it is broadcast (every listener gets every event) and keeps
// nothing: an event published while no listener is subscribed is gone. Unlike the TS bridge, Emit
// waits until the server has the message (a PING/PONG round trip after the PUB, unless
// Options.NoConfirm) and returns an error otherwise, events larger than the server's max_payload are
// refused with an error matching bridges.ErrTooLarge, Start returns only once the server has the
// subscription, and a listener that falls behind by more than the client's pending limits reports the
// dropped messages (Options.OnError) instead of losing them silently.
//
// JetStream (Options.Mode = JetStream) is a Go-only durable extension: the events go into a stream
// (created or bound at New), and listeners read it through a durable pull consumer. An event is
// acknowledged after the handlers of the inbound event finished; an event whose handlers failed is
// delivered again, up to Options.MaxDeliver times, and then published to the dead-letter subject
// (Options.DeadLetter, kept in its own stream) and terminated; an event whose handlers never finished
// MaxDeliver times (its worker died on it each time) is dead-lettered from the server's advisory by a
// listener of the consumer. Listeners with the same
// Options.Consumer share one durable consumer, so N worker processes split the stream (each event to
// one worker while all are healthy), and listeners with different consumer names each see every event
// (fan-out). A worker that dies with unacknowledged events gets them back, or another worker does,
// after Options.AckWait: delivery is at least once, in stream order except for redelivered events.
// A TS peer on the same subject interoperates with core NATS: a TS listener receives the events a
// JetStream bridge publishes (it ignores the message-id header), and the stream stores what a TS
// emitter publishes, for the JetStream listeners.
//
// # Inbound events
//
// Every received event is decoded (with Options.Registry when set), reset (a fresh id, pending, no
// results; its event_path kept, so loops between buses stop) and emitted on the bridge's own inbound
// bus, which is bus-serial with history 0: its handlers see the events in the order the bridge receives
// them. At most Options.QueueSize received events are queued or running at once; beyond that the
// bridge stops reading (JetStream: stops pulling; core: the client buffers, up to its pending limits).
//
// # Calls across processes
//
// Call and CallEvent send an event to a handler in another process by NATS request/reply and return
// its result or its error (a *abxbus.ServiceError whose errors.Is matches the kind of the remote
// error). Requests travel on the call subject (Options.CallSubject, default "<subject>.call"); every
// started bridge of the subject serves it in one queue group, so exactly one listening process
// answers each call, with the handlers of its inbound bus (and of the buses they forward to).
// Requests are not stored, whatever the mode, and Forward does not publish the event of a call being
// served. A TS peer does not subscribe to the call subject: it neither sees nor breaks calls, and a
// call that only a TS process could answer fails at once with ErrNoResponders. A TS process can still
// answer Go calls by subscribing to the call subject with nats.js and responding with
// {"result": <JSON>} or {"error": {"message": "...", "code": "..."}}.
//
// # Cost
//
// A confirmed core Emit is one PUB and one PING/PONG round trip; a JetStream Emit one PUB and one
// PubAck. Receiving costs one decode and one bus emit per event; JetStream adds one ACK per event.
package nats
