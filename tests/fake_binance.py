#!/usr/bin/python3
"""fake_binance.py: a fake Binance venue on 127.0.0.1, spot and USDⓈ-M futures, for the live specs
(spec/live_spec.lua, spec/live_futures_spec.lua; docs/live.md).

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

The same server answers the subset of the USDⓈ-M futures REST API
(https://developers.binance.com/docs/derivatives/usds-margined-futures) that venue "binance-futures" uses, on an
account of its own (a USDT wallet, BTCUSDT perpetual positions, its own orders and leverage):
  public:  GET /fapi/v1/time, /fapi/v1/exchangeInfo (BTCUSDT PERPETUAL and a dated BTCUSDT_261225, filters
           PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL `notional`), /fapi/v1/ticker/24hr (no bid or ask,
           as the venue's), /fapi/v1/ticker/bookTicker, /fapi/v1/depth, /fapi/v1/klines (1m), /fapi/v1/trades,
           /fapi/v1/premiumIndex (lastFundingRate, nextFundingTime every 8 hours)
  SIGNED:  GET /fapi/v2/account, /fapi/v2/positionRisk, /fapi/v1/positionSide/dual, /fapi/v1/openOrders;
           POST /fapi/v1/leverage (1 to 125, else -4028); POST, GET, DELETE /fapi/v1/order
with the futures weights (exchangeInfo 1, account and positionRisk 5, positionSide/dual 30, trades 5, bookTicker and
depth 2, the rest 1; an order counts 0 on the IP's weight) counted with the spot ones. An order: positionSide BOTH
(or none) in one-way mode, LONG or SHORT in hedge mode (else -4061 "Order's position side does not match user's
setting."); reduceOnly in hedge mode is -1106; a reduceOnly order that would increase the position, or is larger
than it, is -2022 "ReduceOnly Order is rejected.", as is a hedge-mode close larger than its position; price off the
tick -4014, quantity off the step -1111, under minQty -4004, over a market order's maxQty -4005, a value under the
minimum notional -4164 (a reduceOnly order is exempt), an open needing more margin (value / leverage) than the
available balance -2019. Fills (market, or a limit through the book; resting limits by /__admin/fill) move the
position: opens at the fill-weighted average entry price, closes realize (exit - entry) x amount into the wallet;
a taker fee 0.0005 and a maker fee 0.0002 of the value are paid.

The user-data stream, as Binance's WebSocket API serves it (web-socket-api.md, user-data-stream.md): a WebSocket at
/ws-api/v3 on the same port (the handshake and frames written here with the standard library), where a text request
{"id", "method": "userDataStream.subscribe.signature", "params": {apiKey, timestamp, recvWindow, signature}} (the
signature: hex HMAC-SHA256 of the other params as name=value in name order, joined by &) is answered {"id", "status":
200, "result": {"subscriptionId": n}} or {"id", "status": 400, "error": {"code", "msg"}} (-1021, -1022, -2015), and
then every order state change (new, fill, cancel) is pushed as {"subscriptionId", "event": executionReport} and the
balances as outboundAccountPosition.

USDⓈ-M's user-data stream (user-data-streams.md of the futures docs): POST /fapi/v1/listenKey (the API key header, no
signature) answers {"listenKey"}: the account's active key, its validity renewed, or a new one; PUT keeps the active
key alive, or is -1125 "This listenKey does not exist." when there is none. A WebSocket at /ws/<listenKey> (a key not
active: the handshake refused, 400) gets every futures order change as {"e": "ORDER_TRADE_UPDATE", "E", "T", "o":
{s, c, S, o, f, q, p, ap, sp, x, X, i, l, z, L, n, N, T, t, b, a, m, R, wt, ot, ps, cp, rp}}; stream_expire ends the
key with {"e": "listenKeyExpired"}.

Admin endpoints (no signature), JSON bodies:
  GET  /__admin/state            orders, balances, counts of requests per path and of answers per status, every
                                 API key header seen, and how many orders were posted; under "futures" the
                                 futures wallet, positions, leverage, mode and orders
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
                                 minute ends); futures: {"dual": true}: hedge mode; {"funding_rate": r};
                                 {"order_limit_10s": n}, {"order_limit_1d": n}: the ORDERS limits;
                                 the stream's: {"stream_drop": true}: every stream connection
                                 is closed at once (no close frame); {"stream_refuse": s}: stream handshakes are
                                 refused (HTTP 503) for s seconds; {"stream_expire": true}: every subscription ends
                                 with eventStreamTerminated (the connection stays open), and the futures
                                 listen key with listenKeyExpired (it is no longer active)
  POST /__admin/fill             {"orderId": n}: a resting order (spot or futures) fills at its price
  (state also has "listen_keys": every futures listen key given, and "stream": handshakes, subscriptions accepted, open subscriptions)
  POST /__admin/restart          closes every connection (as a restarted server would) and forgets the weight
                                 counts and bans; orders and balances stay

Usage: fake_binance.py API_KEY SECRET [book.json|- [PARENT]]; prints the port it listens on, then serves until killed (or
until the process PARENT is gone).
"""
import base64
import hashlib
import hmac
import json
import random
import string
import struct
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
           "/api/v3/ticker/24hr": 2,
           "/fapi/v1/exchangeInfo": 1, "/fapi/v2/account": 5, "/fapi/v2/positionRisk": 5, "/fapi/v1/depth": 2,
           "/fapi/v1/trades": 5, "/fapi/v1/ticker/bookTicker": 2, "/fapi/v1/positionSide/dual": 30,
           "/fapi/v1/order POST": 0}
ORDER_PATHS = ("/api/v3/order", "/fapi/v1/order")
F_TICK, F_STEP, F_MIN_QTY, F_MARKET_MAX, F_MIN_NOTIONAL = (Decimal("0.1"), Decimal("0.001"), Decimal("0.001"),
                                                           Decimal("120"), Decimal("100"))
F_TAKER, F_MAKER = Decimal("0.0005"), Decimal("0.0002")

lock = threading.Lock()
state = {
    "book": {"asks": [["43001.00", "1.5"], ["43002.00", "2"]], "bids": [["42999.00", "1.2"], ["42998.00", "3"]]},
    "balances": {BASE: Decimal("1"), QUOTE: Decimal("100000")},
    "locked": {BASE: Decimal("0"), QUOTE: Decimal("0")},
    "orders": [], "next_id": 1000,
    "requests": {}, "statuses": {}, "keys_seen": [], "order_posts": 0,
    "drop": 0, "hang_after_order": 0, "retry_after": 0, "status_after_order": 0, "skew_ms": 0,
    "body_after_order": None, "late_order": 0,
    "stream_refuse_until": 0, "stream": {"handshakes": 0, "subscribed": 0, "open": 0},
    "listen_key": None, "listen_keys": [],     # futures: the active listen key, and every one given
    "weight_limit": 6000, "minute": 0, "weight": 0, "banned_until": 0, "retry_until": 0,
    # futures: the USDT wallet, positions by positionSide ({"amt": signed, "entry"}), leverage, hedge mode
    "f_wallet": Decimal("10000"), "f_positions": {}, "f_leverage": 20, "dual": False, "f_orders": [],
    "funding_rate": "0.00010000",
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
    o["last"] = (price, qty)
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
    push_order(o, "TRADE")


# ---- the user-data stream ----
subscribers = {}    # a subscribed stream's socket -> its subscriptionId
streams = set()     # every stream connection's socket


def ws_send(sock, text, opcode=1):
    data = text.encode() if isinstance(text, str) else text
    n = len(data)
    head = bytes([0x80 | opcode]) + (bytes([n]) if n < 126 else bytes([126]) + struct.pack(">H", n) if n < 65536
                                     else bytes([127]) + struct.pack(">Q", n))
    try:
        sock.sendall(head + data)
    except OSError:
        pass


def push(event):
    for sock, sid in list(subscribers.items()):
        ws_send(sock, json.dumps({"subscriptionId": sid, "event": event}))


def push_order(o, execution):
    """An executionReport for order o (called under lock, after its state changed), then the balances."""
    last_p, last_q = o.pop("last", (Decimal(0), Decimal(0)))
    if not subscribers:
        return
    t = now_ms()
    push({"e": "executionReport", "E": t, "s": o["symbol"], "c": o["clientOrderId"], "S": o["side"], "o": o["type"],
          "f": o["timeInForce"] or "GTC", "q": dec(o["origQty"]), "p": dec(o["price"]), "P": "0", "F": "0", "g": -1,
          "C": o["clientOrderId"] if execution == "CANCELED" else "", "x": execution, "X": o["status"],
          "r": "NONE", "i": o["orderId"], "l": dec(last_q), "z": dec(o["executedQty"]), "L": dec(last_p), "n": "0",
          "N": None, "T": t, "t": -1, "I": t, "w": o["status"] in ("NEW", "PARTIALLY_FILLED"), "m": False,
          "M": False, "O": o["time"], "Z": dec(o["cummulativeQuoteQty"]), "Y": dec(last_p * last_q),
          "Q": "0", "W": o["time"], "V": "NONE"})
    push({"e": "outboundAccountPosition", "E": t, "u": t, "B": [
        {"a": a, "f": dec(state["balances"][a]), "l": dec(state["locked"][a])} for a in (BASE, QUOTE)]})


f_subscribers = set()   # the futures streams' sockets (each opened with the active listen key)


def f_push(o, execution, last=(Decimal(0), Decimal(0))):
    """An ORDER_TRADE_UPDATE for futures order o (called under lock, after its state changed)."""
    t = now_ms()
    avg = o["cumQuote"] / o["executedQty"] if o["executedQty"] else Decimal(0)
    event = json.dumps({"e": "ORDER_TRADE_UPDATE", "E": t, "T": t, "o": {
        "s": o["symbol"], "c": o["clientOrderId"], "S": o["side"], "o": o["type"], "f": o["timeInForce"],
        "q": dec(o["origQty"]), "p": dec(o["price"]), "ap": dec(avg), "sp": "0", "x": execution, "X": o["status"],
        "i": o["orderId"], "l": dec(last[1]), "z": dec(o["executedQty"]), "L": dec(last[0]), "n": "0", "N": QUOTE,
        "T": t, "t": -1, "b": "0", "a": "0", "m": execution == "TRADE" and o["type"] == "LIMIT",
        "R": o["reduceOnly"], "wt": "CONTRACT_PRICE", "ot": o["type"], "ps": o["positionSide"], "cp": False,
        "rp": "0"}})
    for sock in list(f_subscribers):
        ws_send(sock, event)


def ws_read(rfile):
    """One client frame: (opcode, payload), or None at the end of the stream."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    n = head[1] & 0x7f
    if n == 126:
        n = struct.unpack(">H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", rfile.read(8))[0]
    mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = bytearray(rfile.read(n))
    if len(data) < n:
        return None
    for i in range(n):
        data[i] ^= mask[i % 4]
    return head[0] & 0x0f, bytes(data)


def subscribe_answer(req, sock):
    """The answer to a userDataStream.subscribe.signature request (called under lock)."""
    rid, p = req.get("id"), req.get("params") or {}

    def refuse(status, code, msg):
        return {"id": rid, "status": status, "error": {"code": code, "msg": msg}}
    if req.get("method") != "userDataStream.subscribe.signature":
        return refuse(400, -1000, "Unknown method.")
    if p.get("apiKey") != API_KEY:
        return refuse(401, -2015, "Invalid API-key, IP, or permissions for action.")
    try:
        ts, window = int(p["timestamp"]), int(p.get("recvWindow", 5000))
    except (KeyError, ValueError, TypeError):
        return refuse(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    server = now_ms()
    if not (ts < server + 1000 and server - ts <= window):
        return refuse(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    text = "&".join("%s=%s" % (k, p[k]) for k in sorted(p) if k != "signature")
    good = hmac.new(SECRET, text.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(str(p.get("signature", "")).lower(), good):
        return refuse(400, -1022, "Signature for this request is not valid.")
    state["stream"]["subscribed"] += 1
    subscribers[sock] = state["stream"]["subscribed"] - 1
    return {"id": rid, "status": 200, "result": {"subscriptionId": subscribers[sock]}}


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
        if self.headers.get("Upgrade", "").lower() == "websocket" and (self.path == "/ws-api/v3" or
                                                                       self.path.startswith("/ws/")):
            return self.websocket()
        self.handle_any("GET")

    def websocket(self):
        with lock:
            if time.time() < state["stream_refuse_until"]:
                return self.error(503, -1000, "Service unavailable.")
            keyed = self.path.startswith("/ws/")
            if keyed and (not state["listen_key"] or self.path != "/ws/" + state["listen_key"]):
                return self.error(400, -1125, "This listenKey does not exist.")
            state["stream"]["handshakes"] += 1
            state["stream"]["open"] += 1
            streams.add(self.connection)
            if keyed:
                state["stream"]["subscribed"] += 1
                f_subscribers.add(self.connection)
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-"
                                                "C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        sock = self.connection
        try:
            while True:
                frame = ws_read(self.rfile)
                if frame is None or frame[0] == 8:
                    with lock:
                        ws_send(sock, b"", 8)
                    break
                if frame[0] == 9:
                    with lock:
                        ws_send(sock, frame[1], 10)
                elif frame[0] == 1 and not keyed:
                    with lock:
                        try:
                            answer = subscribe_answer(json.loads(frame[1]), sock)
                        except ValueError:
                            answer = {"id": None, "status": 400, "error": {"code": -1000, "msg": "Not JSON."}}
                        ws_send(sock, json.dumps(answer))
        except OSError:
            pass
        finally:
            with lock:
                subscribers.pop(sock, None)
                f_subscribers.discard(sock)
                streams.discard(sock)
                state["stream"]["open"] -= 1
        self.close_connection = True

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        if url.path.startswith("/__admin/"):
            with lock:
                return self.admin(url.path, json.loads(body) if body else {})
        hang, gone = 0, False
        if method == "POST" and url.path in ORDER_PATHS:
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
            state["weight"] += WEIGHTS.get(url.path + " " + method, WEIGHTS.get(url.path, 1))
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
            if method == "POST" and url.path in ORDER_PATHS and state["hang_after_order"]:
                hang, state["hang_after_order"] = state["hang_after_order"], 0
            if method == "POST" and url.path in ORDER_PATHS and state["status_after_order"]:
                status, state["status_after_order"] = state["status_after_order"], 0
                return self.error(status, -1007, "Timeout waiting for response from backend server. Send status "
                                  "unknown; execution status unknown.")
            if method == "POST" and url.path in ORDER_PATHS and state["body_after_order"] is not None:
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

    def find(self, p, orders=None):
        for o in state["orders"] if orders is None else orders:
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
        push_order(o, "CANCELED")
        return order_view(o)

    @staticmethod
    def open_orders(p, orders, view):
        return [view(o) for o in orders if o["status"] in ("NEW", "PARTIALLY_FILLED")
                and p.get("symbol", SYMBOL) == SYMBOL]

    def api_GET_api_v3_openOrders(self, p):
        "SIGNED"
        return self.open_orders(p, state["orders"], order_view)

    def new_order(self, p):
        """A new order's side, type and client id, counted; None when its symbol is refused."""
        if not self.symbol_ok(p):
            return None
        state["order_posts"] += 1
        counts = order_counts()
        for name, (length, key, said) in ORDER_WINDOWS.items():
            if counts[name] >= state[key]:
                left = (length - now_ms() % length + 999) // 1000
                return self.error(429, -1015, "Too many new orders; current limit is %d orders per %s."
                                  % (state[key], said), [("Retry-After", str(left))])
        return p.get("side"), p.get("type"), p.get("newClientOrderId") or "auto%d" % state["next_id"]

    def price_qty(self, p, side, typ, quote_qty):
        """A new order's best price of its side, its price (a market order's: that best) and quantity (spot's market
        buy may give quoteOrderQty instead: quote_qty); None after the error's answer."""
        best = Decimal(state["book"]["asks" if side == "BUY" else "bids"][0][0])
        try:
            price = Decimal(p["price"]) if typ == "LIMIT" else best
            if quote_qty and typ == "MARKET" and "quoteOrderQty" in p:
                qty = (Decimal(p["quoteOrderQty"]) / best).quantize(STEP, rounding="ROUND_DOWN")
            else:
                qty = Decimal(p["quantity"])
        except Exception:
            return self.error(400, -1102, "Mandatory parameter 'quantity' or 'price' was not sent or malformed.")
        if typ == "LIMIT" and p.get("timeInForce") != "GTC":
            return self.error(400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        return best, price, qty

    def api_POST_api_v3_order(self, p):
        "SIGNED"
        args = self.new_order(p)
        if args is None:
            return None
        side, typ, cid = args
        if side not in ("BUY", "SELL") or typ not in ("LIMIT", "MARKET"):
            return self.error(400, -1106, "Parameter 'side' or 'type' was not valid.")
        if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in state["orders"]):
            return self.error(400, -2010, "Duplicate order sent.")
        parsed = self.price_qty(p, side, typ, True)
        if parsed is None:
            return None
        best, price, qty = parsed
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
        push_order(o, "NEW")
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

    # ---- USDⓈ-M futures: public ----
    def api_GET_fapi_v1_time(self, p):
        return {"serverTime": now_ms()}

    def api_GET_fapi_v1_exchangeInfo(self, p):
        def contract(sym, kind):
            return {"symbol": sym, "pair": SYMBOL, "contractType": kind, "status": "TRADING", "baseAsset": BASE,
                    "quoteAsset": QUOTE, "marginAsset": QUOTE, "pricePrecision": 2, "quantityPrecision": 3,
                    "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
                        {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
                        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MIN_NOTIONAL", "notional": "100"},
                        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                         "multiplierDecimal": "4"}]}
        return {"timezone": "UTC", "serverTime": now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                "limit": 2400}],
                "symbols": [contract("BTCUSDT_261225", "CURRENT_QUARTER"), contract(SYMBOL, "PERPETUAL")]}

    def api_GET_fapi_v1_ticker_bookTicker(self, p):
        v = self.api_GET_api_v3_ticker_bookTicker(p)
        if v is not None:
            v["time"] = now_ms()
        return v

    def api_GET_fapi_v1_ticker_24hr(self, p):
        v = self.api_GET_api_v3_ticker_24hr(p)
        if v is not None:
            for k in ("bidPrice", "bidQty", "askPrice", "askQty"):
                del v[k]
        return v

    def api_GET_fapi_v1_depth(self, p):
        return self.api_GET_api_v3_depth(p)

    def api_GET_fapi_v1_klines(self, p):
        return self.api_GET_api_v3_klines(p)

    def api_GET_fapi_v1_trades(self, p):
        v = self.api_GET_api_v3_trades(p)
        if v is not None:
            for t in v:
                del t["isBestMatch"]
        return v

    def mark(self):
        return (Decimal(state["book"]["asks"][0][0]) + Decimal(state["book"]["bids"][0][0])) / 2

    def api_GET_fapi_v1_premiumIndex(self, p):
        if not self.symbol_ok(p):
            return None
        m, t = self.mark(), now_ms()
        return {"symbol": SYMBOL, "markPrice": dec(m), "indexPrice": dec(m), "estimatedSettlePrice": dec(m),
                "lastFundingRate": state["funding_rate"], "interestRate": "0.00010000",
                "nextFundingTime": (t // 28800000 + 1) * 28800000, "time": t}

    # ---- USDⓈ-M futures: SIGNED ----
    def f_sides(self):
        return ("LONG", "SHORT") if state["dual"] else ("BOTH",)

    def f_pos(self, side):
        return state["f_positions"].setdefault(side, {"amt": Decimal(0), "entry": Decimal(0)})

    def f_upnl(self, pos):
        return (self.mark() - pos["entry"]) * pos["amt"] if pos["amt"] else Decimal(0)

    def f_open_margin(self):
        lev = Decimal(state["f_leverage"])
        return sum(((o["origQty"] - o["executedQty"]) * o["price"] / lev for o in state["f_orders"]
                    if o["status"] in ("NEW", "PARTIALLY_FILLED") and not self.f_closes(o)), Decimal(0))

    def f_pos_margin(self):
        lev = Decimal(state["f_leverage"])
        return sum((abs(pos["amt"]) * pos["entry"] / lev for pos in state["f_positions"].values()), Decimal(0))

    def f_available(self):
        u = sum((self.f_upnl(pos) for pos in state["f_positions"].values()), Decimal(0))
        return state["f_wallet"] + u - self.f_pos_margin() - self.f_open_margin(), u

    def api_GET_fapi_v2_account(self, p):
        "SIGNED"
        avail, u = self.f_available()
        w = state["f_wallet"]
        asset = {"asset": QUOTE, "walletBalance": dec(w), "unrealizedProfit": dec(u), "marginBalance": dec(w + u),
                 "maintMargin": "0", "initialMargin": dec(self.f_pos_margin() + self.f_open_margin()),
                 "positionInitialMargin": dec(self.f_pos_margin()), "openOrderInitialMargin": dec(self.f_open_margin()),
                 "crossWalletBalance": dec(w), "crossUnPnl": dec(u), "availableBalance": dec(avail),
                 "maxWithdrawAmount": dec(max(avail, Decimal(0))), "marginAvailable": True, "updateTime": now_ms()}
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True, "updateTime": 0,
                "multiAssetsMargin": False, "totalInitialMargin": asset["initialMargin"],
                "totalWalletBalance": dec(w), "totalUnrealizedProfit": dec(u), "totalMarginBalance": dec(w + u),
                "availableBalance": dec(avail), "assets": [asset], "positions": []}

    def api_GET_fapi_v2_positionRisk(self, p):
        "SIGNED"
        out = []
        for side in self.f_sides():
            pos = self.f_pos(side)
            out.append({"symbol": SYMBOL, "positionAmt": dec(pos["amt"]), "entryPrice": dec(pos["entry"]),
                        "breakEvenPrice": "0.0", "markPrice": dec(self.mark()),
                        "unRealizedProfit": dec(self.f_upnl(pos)), "liquidationPrice": "0",
                        "leverage": str(state["f_leverage"]), "maxNotionalValue": "80000000", "marginType": "cross",
                        "isolatedMargin": "0.00000000", "isAutoAddMargin": "false", "positionSide": side,
                        "notional": dec(pos["amt"] * self.mark()), "isolatedWallet": "0", "updateTime": now_ms()})
        return out

    def api_GET_fapi_v1_positionSide_dual(self, p):
        "SIGNED"
        return {"dualSidePosition": state["dual"]}

    def api_POST_fapi_v1_leverage(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        try:
            lev = int(p["leverage"])
        except (KeyError, ValueError):
            return self.error(400, -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed.")
        if not 1 <= lev <= 125:
            return self.error(400, -4028, "Leverage %d is not valid" % lev)
        state["f_leverage"] = lev
        return {"leverage": lev, "maxNotionalValue": "80000000", "symbol": SYMBOL}

    def f_view(self, o):
        keys = ("orderId", "symbol", "status", "clientOrderId", "price", "origQty", "executedQty",
                "cumQuote", "timeInForce", "type", "reduceOnly", "side", "positionSide", "time", "updateTime")
        v = {k: o[k] for k in keys}
        for k in ("price", "origQty", "executedQty", "cumQuote"):
            v[k] = dec(o[k])
        v["cumQty"] = v["executedQty"]
        v["avgPrice"] = dec(o["cumQuote"] / o["executedQty"]) if o["executedQty"] else "0"
        v.update({"closePosition": False, "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
                  "origType": o["type"], "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0})
        return v

    @staticmethod
    def f_closes(o):
        return o["reduceOnly"] or (o["positionSide"] == "LONG" and o["side"] == "SELL") or \
            (o["positionSide"] == "SHORT" and o["side"] == "BUY")

    def f_fill(self, o, price, rate):
        qty = o["origQty"] - o["executedQty"]
        o["executedQty"] += qty
        o["cumQuote"] += price * qty
        o["status"], o["updateTime"] = "FILLED", now_ms()
        pos = self.f_pos(o["positionSide"])
        delta = qty if o["side"] == "BUY" else -qty
        amt = pos["amt"]
        if amt == 0 or (amt > 0) == (delta > 0):        # opens or adds: the fill-weighted average entry
            pos["entry"] = (abs(amt) * pos["entry"] + qty * price) / (abs(amt) + qty)
            pos["amt"] = amt + delta
        else:                                            # reduces: realizes, the entry stays
            closed = min(qty, abs(amt))
            state["f_wallet"] += (price - pos["entry"]) * closed * (1 if amt > 0 else -1)
            pos["amt"] = amt + delta
            if pos["amt"] == 0:
                pos["entry"] = Decimal(0)
            elif (pos["amt"] > 0) != (amt > 0):          # one-way mode through zero: the rest opens
                pos["entry"] = price
        state["f_wallet"] -= price * qty * rate
        f_push(o, "TRADE", (price, qty))

    def api_key_ok(self):
        """A USER_STREAM request: the API key header, no signature."""
        if self.headers.get("X-MBX-APIKEY") != API_KEY:
            self.error(401, -2015, "Invalid API-key, IP, or permissions for action.")
            return False
        return True

    def api_POST_fapi_v1_listenKey(self, p):
        if not self.api_key_ok():
            return None
        if not state["listen_key"]:
            state["listen_key"] = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(64))
            state["listen_keys"].append(state["listen_key"])
        return {"listenKey": state["listen_key"]}

    def api_PUT_fapi_v1_listenKey(self, p):
        if not self.api_key_ok():
            return None
        if not state["listen_key"]:
            return self.error(400, -1125, "This listenKey does not exist.")
        return {"listenKey": state["listen_key"]}

    def api_GET_fapi_v1_order(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        o = self.find(p, state["f_orders"])
        if not o:
            return self.error(400, -2013, "Order does not exist.")
        return self.f_view(o)

    def api_DELETE_fapi_v1_order(self, p):
        "SIGNED"
        if not self.symbol_ok(p):
            return None
        o = self.find(p, state["f_orders"])
        if not o or o["status"] not in ("NEW", "PARTIALLY_FILLED"):
            return self.error(400, -2011, "Unknown order sent.")
        o["status"], o["updateTime"] = "CANCELED", now_ms()
        f_push(o, "CANCELED")
        return self.f_view(o)

    def api_GET_fapi_v1_openOrders(self, p):
        "SIGNED"
        return self.open_orders(p, state["f_orders"], self.f_view)

    def api_POST_fapi_v1_order(self, p):
        "SIGNED"
        args = self.new_order(p)
        if args is None:
            return None
        side, typ, cid = args
        pside, reduce = p.get("positionSide", "BOTH"), p.get("reduceOnly")
        if side not in ("BUY", "SELL") or typ not in ("LIMIT", "MARKET"):
            return self.error(400, -1106, "Parameter 'side' or 'type' was not valid.")
        if pside not in self.f_sides():
            return self.error(400, -4061, "Order's position side does not match user's setting.")
        if reduce is not None and state["dual"]:
            return self.error(400, -1106, "Parameter 'reduceonly' sent when not required.")
        reduce = reduce == "true"
        if any(o["clientOrderId"] == cid and o["status"] in ("NEW", "PARTIALLY_FILLED") for o in state["f_orders"]):
            return self.error(400, -4116, "ClientOrderId is duplicated.")
        parsed = self.price_qty(p, side, typ, False)
        if parsed is None:
            return None
        best, price, qty = parsed
        if price <= 0 or not on_grid(price, F_TICK):
            return self.error(400, -4014, "Price not increased by tick size.")
        if qty <= 0:
            return self.error(400, -4003, "Quantity less than or equal to zero.")
        if not on_grid(qty, F_STEP):
            return self.error(400, -1111, "Precision is over the maximum defined for this asset.")
        if qty < F_MIN_QTY:
            return self.error(400, -4004, "Quantity less than min quantity.")
        if typ == "MARKET" and qty > F_MARKET_MAX:
            return self.error(400, -4005, "Quantity greater than max quantity.")
        o = {"symbol": SYMBOL, "orderId": state["next_id"], "clientOrderId": cid, "reduceOnly": reduce,
             "price": price if typ == "LIMIT" else Decimal(0), "origQty": qty, "executedQty": Decimal(0),
             "cumQuote": Decimal(0), "status": "NEW", "timeInForce": "GTC",
             "type": typ, "side": side, "positionSide": pside, "time": now_ms(), "updateTime": now_ms()}
        amt = self.f_pos(pside)["amt"]
        if self.f_closes(o):
            # a close: against the position, and no larger than it (less the pending closes)
            held = amt if side == "SELL" else -amt
            pending = sum(x["origQty"] - x["executedQty"] for x in state["f_orders"] if x["positionSide"] == pside
                          and x["status"] in ("NEW", "PARTIALLY_FILLED") and self.f_closes(x) and x["side"] == side)
            if held <= 0 or qty > held - pending:
                return self.error(400, -2022, "ReduceOnly Order is rejected.")
        else:
            if price * qty < F_MIN_NOTIONAL:
                return self.error(400, -4164, "Order's notional must be no smaller than %s (unless you choose "
                                  "reduce only)." % dec(F_MIN_NOTIONAL))
            avail, _ = self.f_available()
            if price * qty / Decimal(state["f_leverage"]) > avail:
                return self.error(400, -2019, "Margin is insufficient.")
        state["next_id"] += 1
        state["f_orders"].append(o)
        f_push(o, "NEW")
        cross = typ == "MARKET" or (price >= best if side == "BUY" else price <= best)
        if cross:
            self.f_fill(o, best, F_TAKER)
        return self.f_view(o)

    # ---- admin ----
    def admin(self, path, a):
        if path == "/__admin/state":
            return self.reply(200, {"orders": [order_view(o) for o in state["orders"]],
                                    "balances": {k: dec(v) for k, v in state["balances"].items()},
                                    "locked": {k: dec(v) for k, v in state["locked"].items()},
                                    "requests": state["requests"], "keys_seen": sorted(set(filter(None,
                                    state["keys_seen"]))), "order_posts": state["order_posts"],
                                    "weight": state["weight"], "statuses": state["statuses"],
                                    "futures": {"wallet": dec(state["f_wallet"]), "leverage": state["f_leverage"],
                                                "dual": state["dual"],
                                                "positions": {k: {"amt": dec(v["amt"]), "entry": dec(v["entry"])}
                                                              for k, v in state["f_positions"].items()},
                                                "orders": [self.f_view(o) for o in state["f_orders"]]},
                                    "stream": state["stream"], "order_counts": order_counts(),
                                    "listen_keys": state["listen_keys"]})
        if path == "/__admin/book":
            state["book"] = a
        elif path == "/__admin/fault":
            for k in ("drop", "hang_after_order", "status_after_order", "body_after_order", "late_order", "skew_ms",
                      "weight_limit", "retry_after", "dual", "funding_rate",
                      "order_limit_10s", "order_limit_1d"):
                if k in a:
                    state[k] = a[k]
            if a.get("stream_refuse"):
                state["stream_refuse_until"] = time.time() + a["stream_refuse"]
            if a.get("stream_expire"):
                push({"e": "eventStreamTerminated", "E": now_ms()})
                subscribers.clear()
                for sock in list(f_subscribers):
                    ws_send(sock, json.dumps({"e": "listenKeyExpired", "E": now_ms(), "listenKey": state["listen_key"]}))
                f_subscribers.clear()
                state["listen_key"] = None
            if a.get("stream_drop"):
                for sock in list(streams):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        elif path == "/__admin/fill":
            o = self.find({"orderId": str(a["orderId"])})
            if o:
                fill(o, o["price"], o["origQty"] - o["executedQty"])
            else:
                o = self.find({"orderId": str(a["orderId"])}, state["f_orders"])
                self.f_fill(o, o["price"], F_MAKER)
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
