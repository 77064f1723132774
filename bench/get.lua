-- GET with a bearer token (BENCH_TOKEN).
local token = os.getenv("BENCH_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
