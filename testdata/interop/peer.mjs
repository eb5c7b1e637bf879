// The TypeScript side of the interop tests (abxbus@2.5.56 + zod@4.4.3, pinned in package.json).
// Each command reads/writes JSON files; the Go test (cmd/abxbus/interop_test.go) drives it.
//
//   node peer.mjs make-events OUT             fresh and processed TS events of every result-type flavour
//   node peer.mjs roundtrip-events IN OUT     BaseEvent.fromJSON + toJSON of each event (throws if rejected)
//   node peer.mjs check-results IN CASES OUT  run each case value through a TS handler on a rehydrated event:
//                                             {event_type: {valid: [bool...], invalid: [bool...]}} (true = accepted)
//   node peer.mjs validate-results IN OUT     IN: [{event, schema, value}...]; each value is returned by a TS handler
//                                             of a rehydrated event whose event_result_type is schema (the path
//                                             abxbus validates results on): [{ok, error}...] in the same order
//   node peer.mjs roundtrip-bus IN OUT        EventBus.fromJSON + toJSON
//   node peer.mjs resume-bus IN OUT           restore a bus, attach a handler to every handler id, let the
//                                             pending queue run, write the processed bus
//   node peer.mjs jsonl-write FILE N          emit N IPCPing events {seq} through a JSONLEventBridge
//   node peer.mjs jsonl-listen FILE N OUT     listen until N events arrived; write their seq values
import { readFileSync, writeFileSync } from 'node:fs';
import { BaseEvent, EventBus, JSONLEventBridge } from 'abxbus';
import { z } from 'zod';

const [cmd, ...args] = process.argv.slice(2);
const readJSON = (p) => JSON.parse(readFileSync(p, 'utf8'));
const writeJSON = (p, v) => writeFileSync(p, JSON.stringify(v));
// TS cannot encode its own EventHandler*Error objects (circular); write them the way the fixtures do.
const safeJSON = (ev) =>
  JSON.parse(
    JSON.stringify(ev.toJSON(), (k, v) => (v instanceof Error ? { type: v.name || v.constructor?.name || 'Error', message: v.message } : v)),
  );

async function makeEvents(out) {
  const flavours = {
    TsMade_Number: z.number(),
    TsMade_String: z.string(),
    TsMade_Boolean: z.boolean(),
    TsMade_Null: z.null(),
    TsMade_Array: z.array(z.string()),
    TsMade_Record: z.record(z.string(), z.array(z.number())),
    TsMade_Object: z.object({ id: z.string(), score: z.number(), tags: z.array(z.string()), note: z.string().nullable() }),
    TsMade_Optional: z.object({ a: z.number(), b: z.string().optional() }),
  };
  const values = {
    TsMade_Number: 1.5,
    TsMade_String: 'ok',
    TsMade_Boolean: true,
    TsMade_Null: null,
    TsMade_Array: ['a', 'b'],
    TsMade_Record: { x: [1, 2] },
    TsMade_Object: { id: 'i', score: 2, tags: ['t'], note: null },
    TsMade_Optional: { a: 1 },
  };
  const bus = new EventBus('TsMadeBus');
  const events = [];
  for (const [name, schema] of Object.entries(flavours)) {
    const Cls = BaseEvent.extend(name, { n: z.number(), label: z.string(), event_result_type: schema });
    bus.on(Cls, () => values[name]);
    events.push(new Cls({ n: 1, label: 'fresh', event_timeout: 5 }));
    const processed = bus.emit(new Cls({ n: 2, label: 'processed', future_unrecognized_field: { keep: [1] } }));
    await processed.now();
    events.push(processed);
  }
  writeJSON(out, events.map(safeJSON));
  await bus.destroy();
}

function roundtripEvents(inp, out) {
  const evs = readJSON(inp).map((o) => BaseEvent.fromJSON(o));
  writeJSON(out, evs.map(safeJSON));
}

async function checkResults(inp, casesPath, out) {
  const cases = readJSON(casesPath);
  const res = {};
  for (const obj of readJSON(inp)) {
    const c = cases[obj.event_type];
    if (!c) continue;
    res[obj.event_type] = { valid: [], invalid: [] };
    for (const kind of ['valid', 'invalid']) {
      for (const value of c[`${kind}_results`]) {
        const bus = new EventBus('CheckBus');
        bus.on(obj.event_type, () => value);
        const ev = BaseEvent.fromJSON(obj).eventReset();
        bus.emit(ev);
        await ev.now();
        const r = [...ev.event_results.values()][0];
        res[obj.event_type][kind].push(r.status === 'completed');
        await bus.destroy();
      }
    }
  }
  writeJSON(out, res);
}

async function validateResults(inp, out) {
  const res = [];
  for (const { event, schema, value } of readJSON(inp)) {
    const bus = new EventBus('ValidateBus');
    const type = `Validate_${event}`;
    bus.on(type, () => value);
    const ev = BaseEvent.fromJSON({ event_type: type, event_result_type: schema });
    bus.emit(ev);
    await ev.now();
    const r = [...ev.event_results.values()][0];
    res.push({ ok: r.status === 'completed', error: r.error ? String(r.error.message ?? r.error) : '' });
    await bus.destroy();
  }
  writeJSON(out, res);
}

function roundtripBus(inp, out) {
  const bus = EventBus.fromJSON(readJSON(inp));
  writeJSON(out, JSON.parse(JSON.stringify(bus.toJSON(), (k, v) => (v instanceof Error ? { type: v.name, message: v.message } : v))));
}

async function resumeBus(inp, out) {
  const bus = EventBus.fromJSON(readJSON(inp));
  for (const h of bus.handlers.values()) {
    h.handler = (ev) => `ts:${h.handler_name}:${ev.seq ?? ''}`;
  }
  // F230: the next emit starts the runloop, which drains the restored queue first.
  const Kick = BaseEvent.extend('ResumeKick', {});
  await bus.emit(new Kick({})).now();
  await bus.waitUntilIdle(1); // the Go event that was running at the dump stays started: bounded wait
  writeJSON(out, JSON.parse(JSON.stringify(bus.toJSON(), (k, v) => (v instanceof Error ? { type: v.name, message: v.message } : v))));
  await bus.destroy();
}

async function jsonlWrite(file, n) {
  const Ping = BaseEvent.extend('IPCPing', { seq: z.number(), origin: z.string() });
  const bridge = new JSONLEventBridge(file, 0.005, 'TsWriter');
  for (let i = 0; i < n; i++) await bridge.emit(new Ping({ seq: i, origin: 'ts' }));
  await bridge.close();
}

async function jsonlListen(file, n, out) {
  const bridge = new JSONLEventBridge(file, 0.002, 'TsListener');
  const seqs = [];
  let done;
  const finished = new Promise((r) => (done = r));
  // start() before on(): on() auto-starts without awaiting, and a concurrent explicit start() would run
  // two listen loops (each line delivered twice) in abxbus@2.5.56.
  await bridge.start();
  bridge.on('*', (ev) => {
    seqs.push(ev.seq);
    if (seqs.length >= n) done();
  });
  console.log('ready'); // the Go side writes only after this line
  const timer = setTimeout(() => done(), 60000);
  await finished;
  clearTimeout(timer);
  await new Promise((r) => setTimeout(r, 100)); // late duplicates would show up here
  writeJSON(out, seqs);
  await bridge.close();
}

const n = (s) => Number.parseInt(s, 10);
switch (cmd) {
  case 'make-events': await makeEvents(args[0]); break;
  case 'roundtrip-events': roundtripEvents(args[0], args[1]); break;
  case 'check-results': await checkResults(args[0], args[1], args[2]); break;
  case 'validate-results': await validateResults(args[0], args[1]); break;
  case 'roundtrip-bus': roundtripBus(args[0], args[1]); break;
  case 'resume-bus': await resumeBus(args[0], args[1]); break;
  case 'jsonl-write': await jsonlWrite(args[0], n(args[1])); break;
  case 'jsonl-listen': await jsonlListen(args[0], n(args[1]), args[2]); break;
  default:
    console.error(`unknown command ${cmd}`);
    process.exit(2);
}
process.exit(0);
