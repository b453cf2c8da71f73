// The Node.js receiver users write instead of a router, as the benchmark peer (bench/run.py):
// fastify, the `standardwebhooks` package for the signature over the raw body, and ioredis with
// one Lua script per event that does the dedupe (SET NX PX) and the enqueue (XADD) atomically,
// the same command mix as Switchboard's Redis store. Answers 200 {"accepted":N,"duplicates":M}
// after Redis replied. Env: PORT, REDIS_PORT, SECRET (whsec_...).
'use strict';
const crypto = require('node:crypto');
const fastify = require('fastify')({ logger: false, bodyLimit: 10 * 1024 * 1024 });
const Redis = require('ioredis');
const { Webhook } = require('standardwebhooks');

const redis = new Redis({ port: Number(process.env.REDIS_PORT || 6379), host: '127.0.0.1' });
redis.defineCommand('commitEvent', {
  numberOfKeys: 2,
  lua: `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
          redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'event', ARGV[3])
          return 1
        end
        return 0`,
});
const wh = new Webhook(process.env.SECRET);
const WINDOW_MS = String(72 * 3600 * 1000);

fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
  done(null, body);
});

fastify.post('/v1/webhooks/:source', async (request, reply) => {
  let payload;
  try {
    payload = wh.verify(request.body, request.headers);
  } catch (e) {
    return reply.code(401).send({ error: 'bad signature' });
  }
  const recipients = (payload.data && payload.data.to) || [];
  let accepted = 0;
  let duplicates = 0;
  await Promise.all(recipients.map(async (to) => {
    const id = crypto.createHash('sha256')
      .update(`${request.params.source}\0${request.headers['webhook-id']}\0${to.toLowerCase()}`)
      .digest('hex');
    const event = JSON.stringify({ id, type: payload.type, recipient: to,
      occurred_at: payload.created_at, raw: request.body });
    const added = await redis.commitEvent(`dedupe:${id}`, 'queue:audit', id, WINDOW_MS, event);
    if (added === 1) accepted++; else duplicates++;
  }));
  return { accepted, duplicates };
});

fastify.listen({ port: Number(process.env.PORT || 3000), host: '127.0.0.1' })
  .catch((e) => { console.error(e); process.exit(1); });
