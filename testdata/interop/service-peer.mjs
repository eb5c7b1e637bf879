// The TypeScript side of the service interop test (codegen/service_e2e_test.go): a TS process calls a
// Go service and serves a Go client over a JSONL file, with ordinary abxbus events. A request is the
// method's event (its payload the request fields plus abxbus_call_id); the answer is an
// abxbus.ServiceReply event {call_id, service, method, result | error: {message, code}}.
//
//   node service-peer.mjs call FILE OUT   emit two billing.charge requests, wait for their replies, write them
//   node service-peer.mjs serve FILE      answer BillingRefund requests until stdin closes
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { BaseEvent, JSONLEventBridge } from 'abxbus';
import { z } from 'zod';

const Charge = BaseEvent.extend('billing.charge', { customer: z.string(), cents: z.number(), abxbus_call_id: z.string() });
const Reply = BaseEvent.extend('abxbus.ServiceReply', {
  call_id: z.string(),
  service: z.string(),
  method: z.string(),
  result: z.any().optional(),
  error: z.any().optional(),
});

async function call(file, out) {
  const bridge = new JSONLEventBridge(file, 0.005, 'TsClient');
  await bridge.start(); // before on(): see peer.mjs jsonlListen
  const ids = [randomUUID(), randomUUID()];
  const replies = new Map();
  let done;
  const all = new Promise((r) => (done = r));
  bridge.on('abxbus.ServiceReply', (ev) => {
    if (!ids.includes(ev.call_id) || replies.has(ev.call_id)) return;
    replies.set(ev.call_id, { method: ev.method, result: ev.result ?? null, error: ev.error ?? null });
    if (replies.size === ids.length) done();
  });
  await bridge.emit(new Charge({ customer: 'ts', cents: 700, abxbus_call_id: ids[0] }));
  await bridge.emit(new Charge({ customer: 'ts', cents: 1 << 20, abxbus_call_id: ids[1] }));
  const timer = setTimeout(() => done(), 30000);
  await all;
  clearTimeout(timer);
  writeFileSync(out, JSON.stringify(ids.map((id) => replies.get(id) ?? null)));
  await bridge.close();
}

async function serve(file) {
  const bridge = new JSONLEventBridge(file, 0.005, 'TsServer');
  await bridge.start();
  bridge.on('BillingRefund', async (ev) => {
    if (!ev.abxbus_call_id) return;
    const answer = ev.cents > 100 ? { error: { message: `refund of ${ev.cents} is too large`, code: 'too_large' } } : { result: null };
    await bridge.emit(new Reply({ call_id: ev.abxbus_call_id, service: 'Billing', method: 'Refund', ...answer }));
  });
  console.log('ready');
  process.stdin.resume();
  await new Promise((r) => process.stdin.on('end', r));
  await bridge.close();
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'call': await call(args[0], args[1]); break;
  case 'serve': await serve(args[0]); break;
  default:
    console.error(`unknown command ${cmd}`);
    process.exit(2);
}
process.exit(0);
