-- wrk script: signed email-event webhooks with unique ids, signed per request through libcrypto
-- (LuaJIT FFI), so the load generator does the same work a provider does.
--
--   wrk -t1 -c64 -d10s -s bench/wrk/webhook.lua URL -- MODE KEY PREFIX [BATCH] [WRAP] [DELAY_MS]
--
-- MODE    stdwh     Standard Webhooks (Resend email.delivered, ~1.5 KB body), fresh webhook-id
--                   "<PREFIX>-<n>" per request, HMAC-SHA256 with KEY (the base64 secret, no whsec_)
--         badsig    the same requests signed with a wrong key (must all be 401, never stored)
--         sendgrid  SendGrid Event Webhook array of BATCH events (unique sg_event_id each), ECDSA
--                   P-256/SHA-256 over timestamp+body with the PEM private key file KEY
-- WRAP    >0: ids cycle through n = 1 .. WRAP (S3: re-send ids that are already committed)
-- DELAY_MS mean per-connection pause before each request (open-ish loop for a fixed rate, S5);
--          each pause is drawn from an exponential distribution, so the connections' requests
--          arrive as a Poisson stream. A fixed pause kept every connection in step: all of them
--          sent at the same instant, and each "rate" was a burst of one request per connection.
-- Every body carries the send time (created_at, microseconds) so an agent can measure end-to-end
-- latency. done() prints one JSON line "WRKJSON {...}" that bench/run.py parses.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } timeval_t;
int gettimeofday(timeval_t* tv, void* tz);
const void* EVP_sha256(void);
unsigned char* HMAC(const void* md, const void* key, int key_len, const unsigned char* d,
                    size_t n, unsigned char* md_out, unsigned int* md_len);
int EVP_EncodeBlock(unsigned char* t, const unsigned char* f, int n);
int EVP_DecodeBlock(unsigned char* t, const unsigned char* f, int n);
void* BIO_new_mem_buf(const void* buf, int len);
int BIO_free(void* a);
void* PEM_read_bio_PrivateKey(void* bp, void** x, void* cb, void* u);
void* EVP_MD_CTX_new(void);
void EVP_MD_CTX_free(void* ctx);
int EVP_DigestSignInit(void* ctx, void** pctx, const void* type, void* e, void* pkey);
int EVP_DigestSign(void* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs,
                   size_t tbslen);
]]
local crypto = ffi.load("libcrypto.so.3")

local tv = ffi.new("timeval_t")
local function now_parts()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec), tonumber(tv.tv_usec)
end

local function b64(buf, n)
  local out = ffi.new("unsigned char[?]", 4 * math.ceil(n / 3) + 1)
  local len = crypto.EVP_EncodeBlock(out, buf, n)
  return ffi.string(out, len)
end

local function b64decode(s)
  local out = ffi.new("unsigned char[?]", #s)
  local len = crypto.EVP_DecodeBlock(out, s, #s)
  -- EVP_DecodeBlock counts the '=' padding as zero bytes.
  local pad = 0
  if s:sub(-2) == "==" then pad = 2 elseif s:sub(-1) == "=" then pad = 1 end
  return ffi.string(out, len - pad)
end

local mac = ffi.new("unsigned char[32]")
local maclen = ffi.new("unsigned int[1]")
local function hmac_b64(key, msg)
  crypto.HMAC(crypto.EVP_sha256(), key, #key, msg, #msg, mac, maclen)
  return b64(mac, maclen[0])
end

local mode, key, prefix, batch, wrap, delay_ms
local pkey, sigbuf, siglen
local counter = 0
local pad = string.rep("x", 1100)  -- brings a stdwh body to ~1.5 KB

local function rfc3339(sec, usec)
  return os.date("!%Y-%m-%dT%H:%M:%S", sec) .. string.format(".%06dZ", usec)
end

function init(args)
  mode = args[1] or "stdwh"
  prefix = args[3] or "bench"
  batch = tonumber(args[4] or "1")
  wrap = tonumber(args[5] or "0")
  delay_ms = tonumber(args[6] or "0")
  -- wrk takes the timer path only when a global delay() exists, so define it only when asked.
  if delay_ms > 0 then
    math.randomseed(os.time())
    -- wrk rounds the pause down to whole milliseconds.
    function delay() return -math.log(1 - math.random()) * delay_ms end
  end
  if mode == "sendgrid" then
    local f = assert(io.open(args[2], "rb"))
    local pem = f:read("*a")
    f:close()
    local bio = crypto.BIO_new_mem_buf(pem, #pem)
    pkey = crypto.PEM_read_bio_PrivateKey(bio, nil, nil, nil)
    crypto.BIO_free(bio)
    assert(pkey ~= nil, "cannot read the ECDSA private key")
    sigbuf = ffi.new("unsigned char[128]")
    siglen = ffi.new("size_t[1]")
  else
    key = b64decode(args[2])
    if mode == "badsig" then key = string.rep("k", #key) end
  end
end

-- wrk calls request() once at start-up to inspect the request and never sends that one, so id 0
-- is never sent; a WRAP run cycles through ids 1..WRAP, all of which the seeding run sent.
local function next_id()
  local n = counter
  counter = counter + 1
  if wrap > 0 and n > 0 then n = 1 + (n - 1) % wrap end
  return n
end

local function stdwh_request()
  local n = next_id()
  local sec, usec = now_parts()
  local id = prefix .. "-" .. n
  local body = '{"type":"email.delivered","created_at":"' .. rfc3339(sec, usec) ..
      '","data":{"created_at":"' .. rfc3339(sec, usec) ..
      '","email_id":"' .. id .. '","from":"Bench <bench@example.com>","subject":"Benchmark ' ..
      'message","to":["rcpt' .. n .. '@example.org"],"tags":{"campaign":"bench","pad":"' .. pad ..
      '"}}}'
  local ts = tostring(sec)
  local sig = "v1," .. hmac_b64(key, id .. "." .. ts .. "." .. body)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = id,
    ["webhook-timestamp"] = ts,
    ["webhook-signature"] = sig,
  }, body)
end

local function sendgrid_request()
  local sec, usec = now_parts()
  local parts = {}
  for i = 1, batch do
    local n = next_id()
    parts[i] = '{"email":"rcpt' .. n .. '@example.org","timestamp":' .. sec ..
        ',"event":"delivered","sg_event_id":"' .. prefix .. "-" .. n ..
        '","sg_message_id":"m' .. n .. '.filter0001","smtp-id":"<' .. n ..
        '@example.com>","response":"250 OK","category":["bench"]}'
  end
  local body = "[" .. table.concat(parts, ",") .. "]"
  local ts = tostring(sec)
  local msg = ts .. body
  local ctx = crypto.EVP_MD_CTX_new()
  assert(crypto.EVP_DigestSignInit(ctx, nil, crypto.EVP_sha256(), nil, pkey) == 1)
  siglen[0] = 128
  assert(crypto.EVP_DigestSign(ctx, sigbuf, siglen, msg, #msg) == 1)
  crypto.EVP_MD_CTX_free(ctx)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Twilio-Email-Event-Webhook-Timestamp"] = ts,
    ["X-Twilio-Email-Event-Webhook-Signature"] = b64(sigbuf, tonumber(siglen[0])),
  }, body)
end

function request()
  if mode == "sendgrid" then return sendgrid_request() end
  return stdwh_request()
end


function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect_errors":%d,' ..
      '"read_errors":%d,"write_errors":%d,"timeouts":%d,"lat_p50_us":%d,"lat_p99_us":%d,' ..
      '"lat_max_us":%d}\n',
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
      e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
