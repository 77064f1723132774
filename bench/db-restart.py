#!/usr/bin/env python3
"""Checkouts for `bench/run --db-restart`: N workers, each on one keep-alive connection,
POST /api/v1/fraud-screenings with a new order number per checkout for S seconds. A
refused checkout (a non-2xx answer or a socket error) is retried with the same order
number every 0.2 s, as a shop's checkout would, until it is answered 2xx (at most 60 s
after the load stops). Prints one JSON line per attempt:
{"worker", "order", "sent", "answered", "status"} (Unix seconds; status 0: socket error).

    bench/db-restart.py --base URL --token T --run PREFIX --concurrency N --seconds S
"""

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse

BODY = """{"order_number":"%s","channel":"lp","payment_method":"cod","amount":12800,
"ordered_at":"2026-11-23T10:00:00Z","customer":{"id":"C1","registered":false,"previous_order_count":0,
"name":{"last":"山田","first":"太郎"},"email":"taro@example.jp","tel":"09012345670",
"address":{"zipcode":"1500001","prefecture":"東京都","city":"渋谷区","line1":"神宮前1-1"}},
"items":[{"id":"SKU1","name":"緑茶","price":6400,"quantity":2}],"device":{"ip":"203.0.113.9","fingerprint":"fb"}}"""

RETRY_EVERY = 0.2
GIVE_UP_AFTER = 60.0
TIMEOUT = 30.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.base)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + args.token}
    end = time.time() + args.seconds
    lock = threading.Lock()

    def emit(record):
        with lock:
            sys.stdout.write(json.dumps(record) + "\n")

    def worker(w):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
        n = 0
        while time.time() < end:
            n += 1
            order = f"{args.run}-{w}-{n}"
            body = (BODY % order).encode()
            while True:
                sent = time.time()
                try:
                    conn.request("POST", "/api/v1/fraud-screenings", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                except (OSError, http.client.HTTPException):
                    status = 0
                    conn.close()
                answered = time.time()
                emit({"worker": w, "order": order, "sent": sent, "answered": answered, "status": status})
                if 200 <= status < 300 or answered > end + GIVE_UP_AFTER:
                    break
                time.sleep(RETRY_EVERY)
        conn.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
