-- wrk script of the bench's ingestion phase (ingest.py): every request POSTs the
-- same event body (BENCH_BODY) with a bearer token (BENCH_TOKEN).
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
