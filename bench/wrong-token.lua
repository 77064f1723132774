-- POST client credentials with a wrong secret for a real client (BENCH_CLIENT_ID): the
-- token endpoint under a guessing attack from one address.
local id = os.getenv("BENCH_CLIENT_ID")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"grant_type":"client_credentials","client_id":"' .. id .. '","client_secret":"rks_wrong-guess"}'
