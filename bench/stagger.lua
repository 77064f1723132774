-- Spreads each connection's first request over BENCH_STAGGER_MS (the stand-in's latency),
-- evenly across the run's connections, so orders arrive as a steady stream rather than as
-- one herd that every later wave repeats. Unset or 0: every connection starts at once.
-- Env: BENCH_STAGGER_MS, BENCH_CONNECTIONS (wrk's -c), BENCH_THREADS (wrk's -t).
-- wrk measures a request's latency from its writing, so the delay itself is not counted.
local spread = tonumber(os.getenv("BENCH_STAGGER_MS") or "0") or 0
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "0") or 0
local threads = tonumber(os.getenv("BENCH_THREADS") or "1") or 1
local setups = 0

function setup(thread)
  setups = setups + 1
  thread:set("tid", setups)
end

if spread > 0 and connections > 0 then
  local started = 0 -- first requests of this thread's connections delayed so far
  local per_thread = math.floor(connections / threads)
  function delay()
    if started >= per_thread then
      return 0
    end
    started = started + 1
    -- connection k of thread t is the ((k - 1) * threads + t)-th of all to start
    local nth = (started - 1) * threads + (tid or 1) - 1
    return math.floor(nth * spread / connections)
  end
end
