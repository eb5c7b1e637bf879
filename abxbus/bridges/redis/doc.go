// Package redis is the Redis bridge of abxbus, in two modes, and a request/response call between
// processes over Redis.
//
// # Pub/sub mode (the default): the TypeScript bridge's wire
//
// In ModePubSub the bridge speaks exactly what the TypeScript RedisEventBridge speaks: Emit is one
// PUBLISH of the compact event JSON on the channel, and the listener is a SUBSCRIBE on that channel. Go
// and TypeScript (or Python) processes on the same Redis server and channel see each other's events.
// The address is redis://[user:pass@]host[:port][/<db>[/<channel>]] (rediss:// for TLS); the channel
// is Options.Channel, else the URL's second path segment, else "abxbus_events". The db number is only
// SELECTed: Redis channels ignore it.
//
// Start returns only once the server confirmed the subscription, so an event published after Start
// returned is received (the TypeScript listener can miss its subscription at start; this one cannot).
// When the connection breaks, the listener reconnects with a growing pause (at most one second between
// attempts) and subscribes again, logging both.
//
// What pub/sub cannot guarantee, because Redis does not keep pub/sub messages: an event published
// while no subscriber is connected (the listener not started yet, restarting, or reconnecting after a
// server restart) is lost, and so are the messages Redis drops when a slow subscriber's output buffer
// exceeds the server's client-output-buffer-limit for pubsub (the server then closes that
// subscriber's connection; the bridge reconnects). The publisher learns how many subscribers received
// a message: with Options.RequireSubscriber, Emit returns an error matching ErrNoSubscriber when none
// did. A PUBLISH that fails (server down) is an Emit error, never a silent loss. Use ModeStreams when
// events must survive a listener or a server restart.
//
// A message that is not a valid event (bad JSON, an unknown event_* key, a timestamp with an offset)
// is skipped, logged with the reason and passed to Options.OnError; the listener goes on.
//
// # Streams mode: durable, at-least-once, worker groups
//
// In ModeStreams events go through a Redis stream (key Options.Stream, default the channel name) with
// a consumer group (Options.Group): Emit is one XADD with a bounded length (Options.MaxLen, trimmed
// approximately), and the listener reads with XREADGROUP as consumer Options.Consumer. A received event
// is acknowledged (XACK) only once its local handling is over: the event completed on every bus it
// reached, with no handler error. So:
//
//   - A worker that dies (or is killed) before that leaves the entry pending; when it starts again under
//     the same consumer name it first re-reads its own pending entries, and any other worker of the
//     group claims entries idle longer than Options.ClaimIdle (XAUTOCLAIM). Nothing is lost and an
//     event may be handled twice: Delivery (from the handler's context, see DeliveryFrom) carries the
//     original event_id and the stream entry id for deduplication, and the delivery count.
//   - An event whose handler fails is not acknowledged and is delivered again after ClaimIdle; after
//     Options.MaxDeliveries deliveries it is moved to the dead-letter stream (Options.DeadLetter,
//     default "<stream>:dead") with the last error, and acknowledged. An entry that is not a valid
//     event goes there at once.
//   - Workers in one group split the stream: each event goes to one of them (point-to-point). Separate
//     groups each receive every event (fan-out). Within one worker, events are handled in stream
//     order; across workers and on redelivery, order is not kept.
//   - A group created by the first Start reads the stream from its start (whatever MaxLen kept) unless
//     Options.StartAtEnd; events emitted before the group existed are therefore delivered, within the
//     retained length.
//   - With the Redis server's append-only file on (appendonly yes, appendfsync always or everysec),
//     entries and the group's state survive a server restart; with everysec, up to a second of
//     acknowledged emits may be lost when the server machine crashes. The bridge reconnects by itself.
//
// Dead consumers stay listed in the group (XINFO CONSUMERS) until removed with XGROUP DELCONSUMER;
// give a worker a stable Consumer name so that its restart picks up its own entries at once rather
// than after ClaimIdle.
//
// The stream is a Go-side extension: a TypeScript peer does not read streams, so it sees nothing of
// this mode. The program in examples/workers (go run ./examples/workers in this module) runs a
// producer and three worker processes on one stream, kills one with SIGKILL and shows that nothing was
// lost.
//
// # Cost
//
// Emit is one round trip to Redis (PUBLISH or XADD). In ModeStreams a worker reads up to BatchSize
// entries per XREADGROUP and acknowledges consecutive finished entries with one XACK; a redelivered
// entry costs one XPENDING more (its delivery count).
//
// # Calls across processes
//
// NewServer answers calls that arrive on a request stream by emitting each request on a local bus and
// replying with the result of its handlers; NewClient and Call (typed) or Client.CallEvent (untyped)
// send a request and wait for that reply, bounded by the caller's context. The handler's error comes
// back with its kind, so errors.Is matches the same sentinels (abxbus.ErrHandlerTimeout,
// abxbus.ErrNoHandler, ...) as in process. Requests go through a stream with a consumer group (one
// server of the group handles each call, a dead server's calls are claimed by another, a call whose
// caller gave up is dropped), replies through a pub/sub channel of the calling client. Neither is the
// event channel, so TypeScript listeners on the channel do not see calls.
//
// # Registration
//
// Importing the package registers the "redis" and "rediss" schemes with bridges.Open. The address may
// carry the options as query parameters: mode=streams, group, consumer, stream, maxlen, claim_idle,
// max_deliveries, dead_letter, start=end, require_subscriber=true; other parameters go to go-redis
// (dial_timeout, pool_size, ...).
package redis
