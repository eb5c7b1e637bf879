// The TypeScript side of the HTTP and Unix socket bridge interop tests (abxbus/bridges/httpbridge and
// abxbus/bridges/unixsock), using the real HTTPEventBridge and SocketEventBridge of abxbus@2.5.56.
//
//   node netbridges.mjs http-listen URL N OUT       serve URL; after N events write them (toJSON) to OUT
//   node netbridges.mjs socket-listen PATH N OUT    the same on a Unix socket path
//   node netbridges.mjs http-emit URL N [BLOB]      emit N IPCPingEvent {seq, label, note, blob?}, each
//   node netbridges.mjs socket-emit PATH N [BLOB]   awaited; BLOB = bytes of a blob field (default none);
//                                                   sent_at_ms = epoch ms (fractional) just before emit
//
// Listeners print "ready" on stdout once they accept events, and exit 3 if N events did not arrive
// within TIMEOUT_MS (env, default 60000), after writing what arrived. Emitters print one JSON line
// {"ok": n, "errors": [{"seq", "error"}...], "ms": elapsed} and exit 0 even when emits failed.
// The socket emitter never starts its bridge: a started SocketEventBridge takes the path over.
import { writeFileSync } from 'node:fs';
import { BaseEvent, HTTPEventBridge, SocketEventBridge } from 'abxbus';
import { z } from 'zod';

const [cmd, target, nArg, third] = process.argv.slice(2);
const n = Number(nArg);
const timeoutMs = Number(process.env.TIMEOUT_MS || 60000);

const IPCPingEvent = BaseEvent.extend('IPCPingEvent', {
  seq: z.number(),
  label: z.string(),
  note: z.string().optional(),
  blob: z.string().optional(),
  sent_at_ms: z.number().optional(),
});

async function listen(bridge, out) {
  const got = [];
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  await bridge.start();
  bridge.on('*', (ev) => {
    got.push(ev.toJSON());
    if (got.length >= n) finish(0);
  });
  process.stdout.write('ready\n');
  const timer = setTimeout(() => finish(3), timeoutMs);
  const code = n > 0 ? await done : 0;
  clearTimeout(timer);
  writeFileSync(out, JSON.stringify(got));
  await bridge.close();
  process.exit(code);
}

async function emit(bridge, blobBytes) {
  const blob = blobBytes > 0 ? 'b'.repeat(blobBytes) : undefined;
  const errors = [];
  let ok = 0;
  const t0 = Date.now();
  for (let seq = 0; seq < n; seq++) {
    const ev = new IPCPingEvent({ seq, label: `ping_${seq}`, note: 'from TS → Go ✓', ...(blob ? { blob } : {}) });
    ev.sent_at_ms = performance.timeOrigin + performance.now(); // for the receiver's latency figure
    try {
      await bridge.emit(ev);
      ok++;
    } catch (err) {
      errors.push({ seq, error: String(err?.cause?.code || err?.code || err?.message || err) });
    }
  }
  process.stdout.write(JSON.stringify({ ok, errors, ms: Date.now() - t0 }) + '\n');
  process.exit(0);
}

switch (cmd) {
  case 'http-listen':
    await listen(new HTTPEventBridge({ listen_on: target, name: 'TsPeerListener' }), third);
    break;
  case 'socket-listen':
    await listen(new SocketEventBridge(target, 'TsPeerListener'), third);
    break;
  case 'http-emit':
    await emit(new HTTPEventBridge({ send_to: target, name: 'TsPeerEmitter' }), Number(third || 0));
    break;
  case 'socket-emit':
    await emit(new SocketEventBridge(target, 'TsPeerEmitter'), Number(third || 0));
    break;
  default:
    process.stderr.write(`unknown command ${cmd}\n`);
    process.exit(2);
}
