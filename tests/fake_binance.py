#!/usr/bin/python3
"""fake_binance.py: a fake Binance spot venue on 127.0.0.1, for the live specs (spec/live_spec.lua; docs/live.md).

It implements the subset of the SPOT REST API (https://developers.binance.com/docs/binance-spot-api-docs/rest-api)
that stratrun's venue uses, as Binance documents it:
  public:  GET /api/v3/time, /api/v3/exchangeInfo, /api/v3/ticker/bookTicker, /api/v3/ticker/24hr,
           /api/v3/depth, /api/v3/klines (1m), /api/v3/trades
  SIGNED:  GET /api/v3/account; POST, GET, DELETE /api/v3/order; GET /api/v3/openOrders
SIGNED requests carry X-MBX-APIKEY (-2014 "API-key format invalid.", -2015 "Invalid API-key, IP, or permissions
for action.", both HTTP 401), timestamp and recvWindow (at most 60000; -1021 when the timestamp is more than 1000 ms
ahead of the server's clock or older than recvWindow) and signature = hex HMAC-SHA256(secret, query string + body)
(-1022 "Signature for this request is not valid."). Orders pass PRICE_FILTER, LOT_SIZE and NOTIONAL (-1013
"Filter failure: NAME"); a clientOrderId of an open order is refused (-2010 "Duplicate order sent."). Every answer
says the request weight used in the current minute (X-MBX-USED-WEIGHT-1M); past the limit the answer is 429 with
Retry-After, and a request during that wait is answered 418 (the address is banned) with Retry-After.
exchangeInfo states the unfilled-order limits (rateLimits "ORDERS" per 10 SECOND and per 1 DAY); every answer to
POST /api/v3/order carries the account's counts (X-MBX-ORDER-COUNT-10S, X-MBX-ORDER-COUNT-1D: orders placed in the
current window, which starts at a multiple of its length, the day at 00:00 UTC, less one for each order when it
first fills), and an order over a limit is answered 429 with -1015 "Too many new orders; current limit is N orders
per 10 SECOND." and Retry-After (the seconds left in that window).

Orders fill against a scripted book (asks and bids, set at start from a JSON file or by /__admin/book): a
marketable limit or a market order fills at once at the best price of its side; another limit order rests (NEW)
until /__admin/fill fills it.

Admin endpoints (no signature), JSON bodies:
  GET  /__admin/state            orders, balances, counts of requests per path and of answers per status, every
                                 API key header seen, and how many orders were posted
  POST /__admin/book             {"asks": [[p, q], ...], "bids": [...]}
  POST /__admin/fault            {"drop": n}: the next n API requests are answered by closing the connection;
                                 {"hang_after_order": seconds}: the next new order is placed, then the answer waits
                                 that long before it is sent; {"status_after_order": 503}: the next new order
                                 is placed and answered with that status and -1007 (execution status unknown, as
                                 Binance's backend timeout); {"body_after_order": text}: the next new order is
                                 placed and answered 200 with that text as its body (a truncated or odd answer);
                                 {"late_order": seconds}: the next new order's connection is closed at once and the
                                 order placed that much later (queued at the venue, within its recvWindow);
                                 {"skew_ms": ms}: the server clock's offset;
                                 {"weight_limit": n}; {"retry_after": s}: a 429's Retry-After (0: until the
                                 minute ends); {"order_limit_10s": n}, {"order_limit_1d": n}: the ORDERS limits
  POST /__admin/fill             {"orderId": n}: a resting order fills at its price
  POST /__admin/restart          closes every connection (as a restarted server would) and forgets the weight
                                 counts and bans; orders and balances stay

Usage: fake_binance.py API_KEY SECRET [book.json|- [PARENT]]; prints the port it listens on, then serves until killed (or
until the process PARENT is gone).
"""
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
import urllib.parse
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY, SECRET = sys.argv[1], sys.argv[2].encode()
SYMBOL, BASE, QUOTE = "BTCUSDT", "BTC", "USDT"
TICK, STEP, MIN_QTY, MIN_NOTIONAL = Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5")
WEIGHTS = {"/api/v3/exchangeInfo": 20, "/api/v3/account": 20, "/api/v3/depth": 5, "/api/v3/openOrders": 6,
           "/api/v3/order": 4, "/api/v3/klines": 2, "/api/v3/trades": 25,
           "/api/v3/ticker/24hr": 2}

lock = threading.Lock()
state = {
    "book": {"asks": [["43001.00", "1.5"], ["43002.00", "2"]], "bids": [["42999.00", "1.2"], ["42998.00", "3"]]},
    "balances": {BASE: Decimal("1"), QUOTE: Decimal("100000")},
    "locked": {BASE: Decimal("0"), QUOTE: Decimal("0")},
    "orders": [], "next_id": 1000,
    "requests": {}, "statuses": {}, "keys_seen": [], "order_posts": 0,
    "drop": 0, "hang_after_order": 0, "retry_after": 0, "status_after_order": 0, "skew_ms": 0,
    "body_after_order": None, "late_order": 0,
    "weight_limit": 6000, "minute": 0, "weight": 0, "banned_until": 0, "retry_until": 0,
    "order_limit_10s": 50, "order_limit_1d": 160000, "order_counts": {"10S": [0, 0], "1D": [0, 0]},
}
ORDER_WINDOWS = {"10S": (10000, "order_limit_10s", "10 SECOND"), "1D": (86400000, "order_limit_1d", "1 DAY")}
if len(sys.argv) > 3 and sys.argv[3] != "-":
    with open(sys.argv[3]) as f:
        state["book"] = json.load(f)


def now_ms():
    return int(time.time() * 1000) + state["skew_ms"]


def dec(s):
    return format(s.normalize(), "f") if s != 0 else "0"


def on_grid(x, step):
    return (x / step) == (x / step).to_integral_value()


def order_view(o):
    keys = ("symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
            "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "time", "updateTime")
    v = {k: o[k] for k in keys}
    for k in ("price", "origQty", "executedQty", "cummulativeQuoteQty"):
        v[k] = dec(o[k]) if isinstance(o[k], Decimal) else o[k]
    v["isWorking"] = True
    return v


def order_counts():
    """The unfilled-order count of each window now: {"10S": n, "1D": n} (a new window starts at 0)."""
    out = {}
    for name, (length, _, _) in ORDER_WINDOWS.items():
        c = state["order_counts"][name]
        if c[0] != now_ms() // length:
            c[0], c[1] = now_ms() // length, 0
        out[name] = c[1]
    return out


def count_order(delta):
    order_counts()
    for c in state["order_counts"].values():
        c[1] = max(0, c[1] + delta)


def fill(o, price, qty):
    if o["executedQty"] == 0:
        count_order(-1)     # an order that trades counts no more against the unfilled-order limits
    o["executedQty"] += qty
    o["cummulativeQuoteQty"] += price * qty
    o["status"] = "FILLED" if o["executedQty"] >= o["origQty"] else "PARTIALLY_FILLED"
    o["updateTime"] = now_ms()
    b, q = state["balances"], state["locked"]
    if o["side"] == "BUY":
        if o["type"] == "LIMIT" and o["resting"]:
            q[QUOTE] -= o["price"] * qty
            b[QUOTE] += (o["price"] - price) * qty
        else:
            b[QUOTE] -= price * qty
        b[BASE] += qty
    else:
        if o["type"] == "LIMIT" and o["resting"]:
            q[BASE] -= qty
        else:
            b[BASE] -= qty
        b[QUOTE] += price * qty


connections = set()     # the open connections, which /__admin/restart closes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            connections.add(self.connection)

    def finish(self):
        with lock:
            connections.discard(self.connection)
        super().finish()

    def log_message(self, *a):
        pass

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        if not self.path.startswith("/__admin/"):
            state["statuses"][str(status)] = state["statuses"].get(str(status), 0) + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-MBX-USED-WEIGHT-1M", str(state["weight"]))
        if self.command == "POST" and self.path.startswith("/api/v3/order"):
            for name, n in order_counts().items():
                self.send_header("X-MBX-ORDER-COUNT-" + name, str(n))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, msg, headers=()):
        self.reply(status, {"code": code, "msg": msg}, headers)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        if url.path.startswith("/__admin/"):
            with lock:
                return self.admin(url.path, json.loads(body) if body else {})
        hang, gone = 0, False
        if method == "POST" and url.path == "/api/v3/order":
            with lock:
                late, state["late_order"] = state["late_order"], 0
            if late:
                # the answer is lost at once, the order is placed later (queued at the venue): late < recvWindow
                self.close_connection, gone = True, True
                self.connection.close()
                time.sleep(late)
        with lock:
            state["requests"][method + " " + url.path] = state["requests"].get(method + " " + url.path, 0) + 1
            if state["drop"] > 0:
                state["drop"] -= 1
                self.close_connection = True
                self.connection.close()
                return
            t = int(time.time())
            if t // 60 != state["minute"]:
                state["minute"], state["weight"] = t // 60, 0
            if t < state["banned_until"] or t < state["retry_until"]:
                # a request during a 429's Retry-After: banned, as Binance does to an address that goes on
                state["banned_until"] = max(state["banned_until"], t + 120)
                return self.error(418, -1003, "Way too much request weight used; IP banned until %d."
                                  % (state["banned_until"] * 1000), [("Retry-After", str(state["banned_until"] - t))])
            state["weight"] += WEIGHTS.get(url.path, 1)
            if state["weight"] > state["weight_limit"]:
                wait = state["retry_after"] or 60 - t % 60
                state["retry_until"] = t + wait
                return self.error(429, -1003, "Too much request weight used; current limit is %d request weight "
                                  "per 1 MINUTE." % state["weight_limit"], [("Retry-After", str(wait))])
            params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
            route = getattr(self, "api_" + method + url.path.replace("/", "_"), None)
            if route is None:
                return self.error(404, -1000, "Unknown path " + url.path)
            if route.__doc__ == "SIGNED" and not self.signed_ok(url.query + body, params):
                return
            result = route(params)
            if result is None:
                return
            if method == "POST" and url.path == "/api/v3/order" and state["hang_after_order"]:
                hang, state["hang_after_order"] = state["hang_after_order"], 0
            if method == "POST" and url.path == "/api/v3/order" and state["status_after_order"]:
                status, state["status_after_order"] = state["status_after_order"], 0
                return self.error(status, -1007, "Timeout waiting for response from backend server. Send status "
                                  "unknown; execution status unknown.")
            if method == "POST" and url.path == "/api/v3/order" and state["body_after_order"] is not None:
                text, state["body_after_order"] = state["body_after_order"].encode(), None
                self.send_response(200)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
        if gone:
            return
        if hang:
            time.sleep(hang)
            self.close_connection = True
            self.connection.close()
            return
        self.reply(200, result)

    def signed_ok(self, total, params):
        key = self.headers.get("X-MBX-APIKEY")
        state["keys_seen"].append(key)
        if not key or len(key) > 100:
            self.error(401, -2014, "API-key format invalid.")
            return False
        if key != API_KEY:
            self.error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            return False
        try:
            ts, window = int(params["timestamp"]), int(params.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            self.error(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
            return False
        if window > 60000:
            self.error(400, -1131, "recvWindow must be less than 60000")
            return False
        server = now_ms()
        if not (ts < server + 1000 and server - ts <= window):
            self.error(400, -1021, "Timestamp for this request is outside of the recvWindow.")
            return False
        unsigned, _, sig = total.rpartition("signature=")
        good = hmac.new(SECRET, unsigned.rstrip("&").encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig.split("&")[0].lower(), good):    # "The signature is not case sensitive."
            self.error(400, -1022, "Signature for this request is not valid.")
            return False
        return True

    # ---- public ----
    def api_GET_api_v3_time(self, p):
        return {"serverTime": now_ms()}

    def api_GET_api_v3_exchangeInfo(self, p):
        return {"timezone": "UTC", "serverTime": now_ms(), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": state["weight_limit"]},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": state["order_limit_10s"]},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": state["order_limit_1d"]}],
            "symbols": [{
            "symbol": SYMBOL, "status": "TRADING", "baseAsset": BASE, "baseAssetPrecision": 8, "quoteAsset": QUOTE,
            "quotePrecision": 8, "orderTypes": ["LIMIT", "MARKET"],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
                 "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000",
                 "stepSize": "0.00001000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5}]}]}

    def symbol_ok(self, p):
        if p.get("symbol") != SYMBOL:
            self.error(400, -1121, "Invalid symbol.")
            return False
        return True

    def api_GET_api_v3_ticker_bookTicker(self, p):
        if not self.symbol_ok(p):
            return None
        a, b = state["book"]["asks"][0], state["book"]["bids"][0]
        return {"symbol": SYMBOL, "bidPrice": b[0], "bidQty": b[1], "askPrice": a[0], "askQty": a[1]}

    def api_GET_api_v3_ticker_24hr(self, p):
        if not self.symbol_ok(p):
            return None
        a, b = state["book"]["asks"][0], state["book"]["bids"][0]
        return {"symbol": SYMBOL, "lastPrice": a[0], "openPrice": b[0], "highPrice": a[0], "lowPrice": b[0],
                "volume": "1234.5", "bidPrice": b[0], "bidQty": b[1], "askPrice": a[0], "askQty": a[1],
                "openTime": now_ms() - 86400000, "closeTime": now_ms()}

    def api_GET_api_v3_depth(self, p):
        if not self.symbol_ok(p):
            return None
        lim = int(p.get("limit", "100"))
        return {"lastUpdateId": 1, "bids": state["book"]["bids"][:lim], "asks": state["book"]["asks"][:lim]}

    def api_GET_api_v3_klines(self, p):
        if not self.symbol_ok(p):
            return None
        if p.get("interval") != "1m":
            return self.error(400, -1120, "Invalid interval.")
        lim, start = int(p.get("limit", "500")), (now_ms() // 60000 - 1) * 60000
        mid = (Decimal(state["book"]["asks"][0][0]) + Decimal(state["book"]["bids"][0][0])) / 2
        return [[start - 60000 * i, dec(mid - i), dec(mid - i + 5), dec(mid - i - 5), dec(mid - i + 1), "12.5",
                 start - 60000 * i + 59999, "0", 10, "0", "0", "0"] for i in reversed(range(lim))]

    def api_GET_api_v3_trades(self, p):
        if not self.symbol_ok(p):
            return None
        a = state["book"]["asks"][0][0]
        return [{"id": 7 + i, "price": a, "qty": "0.01", "quoteQty": dec(Decimal(a) / 100), "time": now_ms() - 1000 + i,
                 "isBuyerMaker": i % 2 == 0, "isBestMatch": True} for i in range(int(p.get("limit", "500")))][:5]

    # ---- SIGNED ----
    def api_GET_api_v3_account(self, p):
        "SIGNED"
        return {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "accountType": "SPOT",
                "updateTime": now_ms(), "permissions": ["SPOT"],
                "balances": [{"asset": a, "free": dec(state["balances"][a]), "locked": dec(state["locked"][a])}
                             for a in (BASE, QUOTE)]}

    def find(self, p):
        for o in state["orders"]:
            if ("orderId" in p and str(o["orderId"]) == p["orderId"]) or \
               ("origClientOrderId" in p and o["clientOrderId"] == p["origClientOrderId"]):
                return o
        return None

    def api_GET_api_v3_order(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        o = self.find(p)
        if not o:
            return self.error(400, -2013, "Order does not exist.")
        return order_view(o)

    def api_DELETE_api_v3_order(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        o = self.find(p)
        if not o or o["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return self.error(400, -2011, "Unknown order sent.")
        left = o["origQty"] - o["executedQty"]
        if o["side"] == "BUY":
            state["locked"][QUOTE] -= o["price"] * left
            state["balances"][QUOTE] += o["price"] * left
        else:
            state["locked"][BASE] -= left
            state["balances"][BASE] += left
        o["status"] = "CANCELED"
        return order_view(o)

    def api_GET_api_v3_openOrders(self, p):
        "SIGNED"
        return [order_view(o) for o in state["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")
                and p.get("symbol", SYMBOL) == SYMBOL]

    def api_POST_api_v3_order(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        state["order_posts"] += 1
        counts = order_counts()
        for name, (length, key, said) in ORDER_WINDOWS.items():
            if counts[name] >= state[key]:
                left = (length - now_ms() % length + 999) // 1000
                return self.error(429, -1015, "Too many new orders; current limit is %d orders per %s."
                                  % (state[key], said), [("Retry-After", str(left))])
        side, typ, cid = p.get("side"), p.get("type"), p.get("newClientOrderId") or "auto%d" % state["next_id"]
        if side not in ("BUY", "SELL") or typ not in ("LIMIT", "MARKET"):
            return self.error(400, -1106, "Parameter 'side' or 'type' was not valid.")
        if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in state["orders"]):
            return self.error(400, -2010, "Duplicate order sent.")
        book = state["book"]["asks" if side == "BUY" else "bids"]
        best = Decimal(book[0][0])
        try:
            price = Decimal(p["price"]) if typ == "LIMIT" else best
            if typ == "MARKET" and "quoteOrderQty" in p:
                qty = (Decimal(p["quoteOrderQty"]) / best).quantize(STEP, rounding="ROUND_DOWN")
            else:
                qty = Decimal(p["quantity"])
        except Exception:
            return self.error(400, -1102, "Mandatory parameter 'quantity' or 'price' was not sent or malformed.")
        if typ == "LIMIT" and p.get("timeInForce") != "GTC":
            return self.error(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        if price <= 0 or not on_grid(price, TICK):
            return self.error(400, -1013, "Filter failure: PRICE_FILTER")
        if qty < MIN_QTY or not on_grid(qty, STEP):
            return self.error(400, -1013, "Filter failure: LOT_SIZE")
        if price * qty < MIN_NOTIONAL:
            return self.error(400, -1013, "Filter failure: NOTIONAL")
        cross = typ == "MARKET" or (price >= best if side == "BUY" else price <= best)
        need_q, need_b = (price * qty, 0) if side == "BUY" else (0, qty)
        if state["balances"][QUOTE] < need_q or state["balances"][BASE] < need_b:
            return self.error(400, -2010, "Account has insufficient balance for requested action.")
        t = now_ms()
        o = {"symbol": SYMBOL, "orderId": state["next_id"], "orderListId": -1, "clientOrderId": cid,
             "price": price if typ == "LIMIT" else Decimal(0), "origQty": qty, "executedQty": Decimal(0),
             "cummulativeQuoteQty": Decimal(0), "status": "NEW", "timeInForce": "GTC" if typ == "LIMIT" else "",
             "type": typ, "side": side, "time": t, "updateTime": t, "resting": False}
        state["next_id"] += 1
        state["orders"].append(o)
        count_order(1)
        if cross:
            fill(o, best, qty)
        else:
            o["resting"] = True
            if side == "BUY":
                state["balances"][QUOTE] -= price * qty
                state["locked"][QUOTE] += price * qty
            else:
                state["balances"][BASE] -= qty
                state["locked"][BASE] += qty
        v = order_view(o)
        v["transactTime"] = t
        return v

    # ---- admin ----
    def admin(self, path, a):
        if path == "/__admin/state":
            return self.reply(200, {"orders": [order_view(o) for o in state["orders"]],
                                    "balances": {k: dec(v) for k, v in state["balances"].items()},
                                    "locked": {k: dec(v) for k, v in state["locked"].items()},
                                    "requests": state["requests"], "keys_seen": sorted(set(filter(None,
                                    state["keys_seen"]))), "order_posts": state["order_posts"],
                                    "weight": state["weight"], "statuses": state["statuses"],
                                    "order_counts": order_counts()})
        if path == "/__admin/book":
            state["book"] = a
        elif path == "/__admin/fault":
            for k in ("drop", "hang_after_order", "status_after_order", "body_after_order", "late_order", "skew_ms",
                      "weight_limit", "retry_after", "order_limit_10s", "order_limit_1d"):
                if k in a:
                    state[k] = a[k]
        elif path == "/__admin/fill":
            o = self.find({"orderId": str(a["orderId"])})
            fill(o, o["price"], o["origQty"] - o["executedQty"])
        elif path == "/__admin/restart":
            state["weight"], state["retry_until"], state["banned_until"] = 0, 0, 0
            for c in connections - {self.connection}:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.close_connection = True
        else:
            return self.error(404, -1000, "no admin path " + path)
        self.reply(200, {"ok": True})


def watch_parent(pid):
    import os
    while True:
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)
        time.sleep(1)


if len(sys.argv) > 4:
    threading.Thread(target=watch_parent, args=(int(sys.argv[4]),), daemon=True).start()
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
