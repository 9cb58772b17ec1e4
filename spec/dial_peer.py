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
import asyncio
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


async def main():
    lines = []
    ws = await websockets.serve(handler, "127.0.0.1", 0, max_size=None, compression=None)
    lines.append("ws %d" % ws.sockets[0].getsockname()[1])
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    threading.Thread(target=tcp_echo, args=(tcp,), daemon=True).start()
    lines.append("tcp %d" % tcp.getsockname()[1])
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
