#!/usr/bin/python3
# dial_peer.py: the peers of spec/dial_spec.lua, independent implementations Dial must interoperate with:
# Debian's python3-websockets as a ws:// and a wss:// server, and a plain socket TCP echo server, all on 127.0.0.1.
#
#   dial_peer.py DIR PARENT_PID [CERT KEY]
#
# Writes DIR/ports ("ws PORT\ntcp PORT\nwss PORT\n") once listening, logs what the drop server receives to
# DIR/drop.log, and exits when PARENT_PID is gone. The WebSocket paths:
#   /echo         every message back, text as text, binary as binary
#   /push?n=N     N messages "m1".."mN" at once, then silence
#   /zecho?z=FMT  inflates a binary message (gzip, raw, zlib), answers "echo:" + it compressed the same way
#   /drop         logs each message, sends "hello K" (K: the connection's number), closes the first connection
#                 after 300 ms
#   /close        sends "bye", closes after 300 ms
#   /hold         never sends
# and a hand-written WebSocket server ("raw PORT"), for what a well-behaved library will not do:
#   /flood        text messages of 60000 bytes without end
#   /noread       never reads
#   /bomb         1 GiB of zeros raw-deflated in one binary message, then "after bomb"; never answers a close
#   /refuse       a 403 whose status line holds a bare LF and a forged log line
#   /quickdrop    "hello", closed after 50 ms
# and two more TCP servers: "tcpflood PORT" sends bytes without end; "tcplate PORT" reads only after 2 s, logging
# what it received to DIR/late.log.
import asyncio
import base64
import hashlib
import struct
import time
import os
import socket
import ssl
import sys
import threading
import zlib

import websockets

DIR, PARENT = sys.argv[1], int(sys.argv[2])
drops = 0

WBITS = {"gzip": 16 + 15, "raw": -15, "zlib": 15}


def zcompress(data, fmt):
    c = zlib.compressobj(wbits=WBITS[fmt])
    return c.compress(data) + c.flush()


async def handler(ws, path):
    global drops
    if path == "/echo":
        async for m in ws:
            await ws.send(m)
    elif path.startswith("/push"):
        n = int(path.split("n=")[1])
        for i in range(1, n + 1):
            await ws.send("m%d" % i)
        await asyncio.sleep(3600)
    elif path.startswith("/zecho"):
        fmt = path.split("z=")[1]
        async for m in ws:
            text = zlib.decompress(m, WBITS[fmt]) if isinstance(m, bytes) else m.encode()
            await ws.send(zcompress(b"echo:" + text, fmt))
    elif path == "/drop":
        drops += 1
        k = drops
        await ws.send("hello %d" % k)

        async def log_messages():
            async for m in ws:
                with open(os.path.join(DIR, "drop.log"), "a") as f:
                    f.write("%d %s\n" % (k, m))
        reader = asyncio.ensure_future(log_messages())
        if k == 1:
            await asyncio.sleep(0.3)
            reader.cancel()
            await ws.close()
        else:
            await reader
    elif path == "/close":
        await ws.send("bye")
        await asyncio.sleep(0.3)
        await ws.close()
    elif path == "/hold":
        await asyncio.sleep(3600)


def tcp_echo(srv):
    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def frame(op, payload):
    n = len(payload)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    return h + payload


def raw_ws(conn):
    with conn:
        head = b""
        while b"\r\n\r\n" not in head:
            d = conn.recv(4096)
            if not d:
                return
            head += d
        path = head.split(b" ")[1].decode()
        if path == "/refuse":
            conn.sendall(b"HTTP/1.1 403 x\n2026-12-07 11:00:00.000 stop: forged by the server\r\n\r\n")
            time.sleep(2)
            return
        key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
               if l.lower().startswith(b"sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + acc + b"\r\n\r\n")
        try:
            if path == "/flood":
                m = frame(1, b"y" * 60000) * 16
                while True:
                    conn.sendall(m)
            elif path == "/noread":
                time.sleep(60)
            elif path == "/bomb":
                co = zlib.compressobj(1, zlib.DEFLATED, -15)
                zeros = b"\0" * (1 << 24)
                z = b"".join(co.compress(zeros) for _ in range(64)) + co.flush()
                conn.sendall(frame(2, z) + frame(1, b"after bomb"))
                time.sleep(10)
            elif path == "/quickdrop":
                conn.sendall(frame(1, b"hello"))
                time.sleep(0.05)
        except OSError:
            pass


def tcp_flood(conn):
    with conn:
        chunk = b"x" * 65536
        try:
            while True:
                conn.sendall(chunk)
        except OSError:
            pass


def tcp_late(conn):
    with conn:
        time.sleep(2)
        got = b""
        while b"PING" not in got:
            d = conn.recv(1 << 20)
            if not d:
                break
            got = got[-8:] + d
        with open(os.path.join(DIR, "late.log"), "a") as f:
            f.write("PING\n" if b"PING" in got else "no PING\n")


def serve(serve_one):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def loop():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]


async def main():
    lines = []
    ws = await websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None)
    lines.append("ws %d" % ws.sockets[0].getsockname()[1])
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    threading.Thread(target=tcp_echo, args=(tcp,), daemon=True).start()
    lines.append("tcp %d" % tcp.getsockname()[1])
    lines.append("raw %d" % serve(raw_ws))
    lines.append("tcpflood %d" % serve(tcp_flood))
    lines.append("tcplate %d" % serve(tcp_late))
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        wss = await websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, max_size=None, compression=None)
        lines.append("wss %d" % wss.sockets[0].getsockname()[1])
    with open(os.path.join(DIR, "ports.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(os.path.join(DIR, "ports.tmp"), os.path.join(DIR, "ports"))
    while True:
        await asyncio.sleep(0.5)
        try:
            os.kill(PARENT, 0)
        except OSError:
            os._exit(0)

asyncio.run(main())
