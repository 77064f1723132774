-- POST /v3/event straight to `renkei oplux-mock`: the floor of the screening scenario.
-- The body (BENCH_EVENT_FILE) is signed with the mock's demo credentials.
dofile("bench/stagger.lua") -- the same start as the screening scenario
local file = io.open(os.getenv("BENCH_EVENT_FILE"), "r")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json; charset=UTF-8"
