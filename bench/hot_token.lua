-- One token for every request: the verified-token cache is hit after the first call.
local token = io.open(os.getenv("BENCH_TOKEN_FILE")):read("*l")
wrk.headers["Authorization"] = "Bearer " .. token
