// The TypeScript side of the Redis bridge interop tests (abxbus@2.5.56 RedisEventBridge on ioredis
// 5.10.1, pinned in package.json), driven by abxbus/bridges/redis/interop_test.go.
//
//   node redispeer.mjs emit URL N             emit N Ping events {seq: 0..N-1}, each emit awaited
//   node redispeer.mjs listen URL N OUT [MS]  print "ready" once the subscription is verified, then
//                                             receive until N events arrived (or 30 s passed), wait MS
//                                             more milliseconds for extra events, and write
//                                             {seqs, types} (in arrival order) to OUT
//
// The listener guards against ioredis' silent-deaf start (a SUBSCRIBE written before the connection
// was ready is lost when ioredis reconnects): it waits for the subscriber connection to be ready and
// checks PUBSUB NUMSUB from a third connection, subscribing again until the server counts it.
import { writeFileSync } from 'node:fs';
import { BaseEvent } from 'abxbus';
import { RedisEventBridge } from 'abxbus/RedisEventBridge';
import Redis from 'ioredis';
import { z } from 'zod';

const [cmd, ...args] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const Ping = BaseEvent.extend('Ping', { seq: z.number() });

async function emit(url, n) {
  const bridge = new RedisEventBridge(url, undefined, 'TsRedisEmitter');
  await bridge.start();
  for (let i = 0; i < n; i++) {
    await bridge.emit(new Ping({ seq: i }));
  }
  await bridge.close();
}

async function verifiedSubscription(bridge, url) {
  const admin = new Redis(url);
  admin.on('error', () => {});
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const sub = bridge.redis_sub;
      if (sub && sub.status === 'ready') {
        const [, count] = await admin.pubsub('NUMSUB', bridge.channel);
        if (Number(count) > 0) return;
        await sub.subscribe(bridge.channel).catch(() => {});
      }
      await sleep(100);
    }
    throw new Error(`subscription to ${bridge.channel} not verified`);
  } finally {
    admin.disconnect();
  }
}

async function listen(url, n, out, lingerMs) {
  const bridge = new RedisEventBridge(url, undefined, 'TsRedisListener');
  await bridge.start();
  const seqs = [];
  const types = [];
  let wake = () => {};
  bridge.on('*', (event) => {
    seqs.push(event.seq);
    types.push(event.event_type);
    wake();
  });
  await verifiedSubscription(bridge, url);
  console.log('ready');
  const deadline = Date.now() + 30000;
  while (seqs.length < n && Date.now() < deadline) {
    await new Promise((r) => {
      wake = r;
      setTimeout(r, 200);
    });
  }
  if (lingerMs > 0) await sleep(lingerMs);
  writeFileSync(out, JSON.stringify({ seqs, types }));
  await bridge.close();
}

switch (cmd) {
  case 'emit':
    await emit(args[0], Number(args[1]));
    break;
  case 'listen':
    await listen(args[0], Number(args[1]), args[2], Number(args[3] ?? 0));
    break;
  default:
    console.error(`unknown command ${cmd}`);
    process.exit(2);
}
process.exit(0);
