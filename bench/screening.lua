-- POST /api/v1/fraud-screenings with a new order number per request (no replays).
-- Env: BENCH_TOKEN (bearer token), BENCH_RUN (a prefix unique to this run).
dofile("bench/stagger.lua") -- setup() numbers the threads (tid); the first requests' delay()
local counter = 0
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") or "run"

function request()
  counter = counter + 1
  local body = string.format([[{"order_number":"%s-%d-%d","channel":"lp","payment_method":"cod","amount":12800,
"ordered_at":"2026-11-23T10:00:00Z","customer":{"id":"C1","registered":false,"previous_order_count":0,
"name":{"last":"山田","first":"太郎"},"email":"taro@example.jp","tel":"09012345670",
"address":{"zipcode":"1500001","prefecture":"東京都","city":"渋谷区","line1":"神宮前1-1"}},
"items":[{"id":"SKU1","name":"緑茶","price":6400,"quantity":2}],"device":{"ip":"203.0.113.9","fingerprint":"fb"}}]],
    run, tid, counter)
  return wrk.format("POST", "/api/v1/fraud-screenings",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
