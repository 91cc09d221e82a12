#!/usr/bin/env python3
"""Soak load for scripts/soak.sh: event streams that churn, token revocations, Redis restarts.

Standard library only. Every stream checks that its event ids are consecutive (the demo
upstream numbers them); the summary is one JSON line on stdout.
"""
import asyncio, hashlib, json, os, random, secrets, signal, socket, struct, subprocess, sys, time

GW, REDIS_PORT, DURATION, STREAMS = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
REDIS_RESTART = sys.argv[5]  # a command that restarts redis-server on the same port
stats = {"streams_opened": 0, "events": 0, "plain_requests": 0, "revoked": 0, "redis_restarts": 0,
         "errors": {}, "id_gaps": 0, "unexpected_status": {}}
tokens, revoked = [], set()
deadline = time.monotonic() + DURATION


def err(kind):
    stats["errors"][kind] = stats["errors"].get(kind, 0) + 1


def rcli(*args):
    return subprocess.run(["redis-cli", "-p", REDIS_PORT, *args], capture_output=True, text=True).stdout


def put_session(t):
    key = "session:" + hashlib.sha256(t.encode()).hexdigest()
    rcli("HSET", key, "user_id", "u-" + t[:6], "tenant_id", "acme", "kind", "session",
         "scopes", "events:read", "expires_at", str(int(time.time()) + 7200))


def new_token():
    t = secrets.token_urlsafe(24)
    put_session(t)
    tokens.append(t)
    return t


async def stream_once():
    t = random.choice(tokens)
    query = random.random() < 0.3
    path = "/v1/events?rate=5" + (f"&access_token={t}" if query else "")
    headers = "" if query else f"Authorization: Bearer {t}\r\n"
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", GW), 5)
    except Exception:
        err("connect"); return
    try:
        w.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\nAccept: text/event-stream\r\n{headers}\r\n".encode())
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            if not (status in (401, 403) and t in revoked) and status != 503:
                stats["unexpected_status"][str(status)] = stats["unexpected_status"].get(str(status), 0) + 1
            return
        stats["streams_opened"] += 1
        life = time.monotonic() + random.uniform(5, 60)
        last, buf = None, b""
        while time.monotonic() < min(life, deadline):
            chunk = await asyncio.wait_for(r.read(65536), 30)
            if not chunk:
                break  # ended by the gateway (revocation, max duration): reconnect
            buf += chunk
            while b"\nid: " in buf or buf.startswith(b"id: "):
                i = buf.find(b"id: ")
                j = buf.find(b"\n", i)
                if j < 0: break
                try:
                    n = int(buf[i + 4:j])
                    if last is not None and n != last + 1: stats["id_gaps"] += 1
                    last = n
                    stats["events"] += 1
                except ValueError:
                    pass
                buf = buf[j + 1:]
        if random.random() < 0.2:  # abrupt end: RST
            sock = w.get_extra_info("socket")
            if sock: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except asyncio.TimeoutError:
        err("timeout")
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        err("connection")
    finally:
        w.close()


async def streamer():
    while time.monotonic() < deadline:
        await stream_once()
        await asyncio.sleep(random.uniform(0, 0.5))


async def plain():
    while time.monotonic() < deadline:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", GW)
            w.write(b"GET /plain HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            await asyncio.wait_for(r.read(), 10)
            w.close()
            stats["plain_requests"] += 1
        except Exception:
            err("plain")
        await asyncio.sleep(0.1)


async def chaos():
    restart_at = time.monotonic() + 300
    while time.monotonic() < deadline:
        await asyncio.sleep(10)
        # Revoke a token and replace it.
        if tokens:
            t = tokens.pop(random.randrange(len(tokens)))
            revoked.add(t)
            digest = hashlib.sha256(t.encode()).hexdigest()
            rcli("DEL", "session:" + digest)
            rcli("PUBLISH", "streamgate:revoked", digest)
            stats["revoked"] += 1
            new_token()
        if time.monotonic() >= restart_at and time.monotonic() < deadline - 30:
            restart_at = time.monotonic() + 300
            await asyncio.to_thread(subprocess.run, ["sh", "-c", REDIS_RESTART])
            for t in tokens: put_session(t)
            stats["redis_restarts"] += 1


async def main():
    for _ in range(50): new_token()
    await asyncio.gather(*[streamer() for _ in range(STREAMS)], plain(), chaos())
    print(json.dumps(stats))

asyncio.run(main())
