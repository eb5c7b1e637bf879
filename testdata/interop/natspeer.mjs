// The TypeScript side of the NATS bridge interop tests (abxbus/bridges/nats/interop_test.go), with the
// TS NATSEventBridge of abxbus@2.5.56 on nats.js 2.29.3 (pinned in package.json).
//
//   node natspeer.mjs emit URL SUBJECT N          emit N NatsPing events {seq: 0..N-1}, then close and exit
//   node natspeer.mjs listen URL SUBJECT N OUT    print "ready" once subscribed, then write the seq values
//                                                 of the first N events received to OUT (JSON) and exit
//
// Every command exits explicitly: nats.js keeps its connection (and the process) alive otherwise. The
// bridge is started with `await start()` before `on()`/`emit()`: `on()` followed by `start()`, or
// `emit()` without `start()`, starts the TS bridge twice (two subscriptions, every event twice).
import { writeFileSync } from 'node:fs';
import { BaseEvent } from 'abxbus';
import { NATSEventBridge } from 'abxbus/NATSEventBridge';
import { z } from 'zod';

const NatsPing = BaseEvent.extend('NatsPing', { seq: z.number(), label: z.string().optional() });

const [cmd, url, subject, nStr, out] = process.argv.slice(2);
const n = Number(nStr);
const timer = setTimeout(() => {
  console.error(`natspeer ${cmd}: timed out`);
  process.exit(3);
}, 60_000);

async function emit() {
  const br = new NATSEventBridge(url, subject, 'TsNatsEmitter');
  await br.start();
  for (let i = 0; i < n; i++) {
    await br.emit(new NatsPing({ seq: i, label: `ts_${i}` }));
  }
  await br.close(); // drains: every publish reaches the server before the connection closes
}

async function listen() {
  const br = new NATSEventBridge(url, subject, 'TsNatsListener');
  await br.start();
  const seqs = [];
  let done;
  const all = new Promise((resolve) => (done = resolve));
  br.on('*', (ev) => {
    seqs.push(ev.seq);
    if (seqs.length === n) done();
  });
  // The SUB is written; a flush makes sure the server has it before the Go side starts emitting.
  await br.nc.flush();
  process.stdout.write('ready\n');
  await all;
  writeFileSync(out, JSON.stringify(seqs));
  await br.close();
}

try {
  if (cmd === 'emit') await emit();
  else if (cmd === 'listen') await listen();
  else throw new Error(`unknown command ${cmd}`);
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  console.error(err);
  process.exit(2);
}
