"""A Catga peer in Python, written from docs/architecture/wire.md alone.

It joins a Catga bus as services in another language would: reads events (single envelopes and
CTG1 frames, zstd or not), publishes events (as a single envelope or a frame), and sends commands
with NATS request/reply. Each command prints JSON lines for the test that drives it:

    catga_peer.py listen  <subject> <queue> <count>     # prints READY, then one line per event
    catga_peer.py publish <type> <json payload> <single|frame|zstd-frame>
    catga_peer.py request <type> <json payload>         # prints the decoded Result

NATS_URL (default nats://127.0.0.1:4222) and CATGA_PREFIX (default catga) configure it.
"""

import asyncio
import json
import os
import struct
import sys
import time
import uuid

import msgpack
import nats
import zstandard

VERSION = 1
KINDS = {"command": 0, "query": 1, "event": 2, "reply": 3, "error": 4}
KIND_NAMES = {code: name for name, code in KINDS.items()}
MAGIC = b"CTG1"
FLAG_ZSTD = 1
PREFIX = os.environ.get("CATGA_PREFIX", "catga")
NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


def encode_envelope(kind, type_, payload, message_id=None, correlation_id=None, causation_id=None, headers=None):
    """The 10-element MessagePack array; the payload is MessagePack bytes (codec "msgpack")."""
    return msgpack.packb(
        [
            VERSION,
            KINDS[kind],
            type_,
            message_id or str(uuid.uuid4()),
            correlation_id,  # nil: this message is its own correlation (a root message)
            causation_id,
            int(time.time() * 1000),
            headers or {},
            "msgpack",
            msgpack.packb(payload, use_bin_type=True),
        ],
        use_bin_type=True,
    )


def decode_envelope(data):
    fields = msgpack.unpackb(data, raw=False, timestamp=3)
    if not isinstance(fields, list) or len(fields) != 10 or fields[0] != VERSION:
        raise ValueError("not a version-1 Catga envelope")
    _, kind, type_, message_id, correlation_id, causation_id, created_at, headers, codec, payload = fields
    if not isinstance(payload, bytes):
        raise ValueError("payload must be bin")
    if codec == "msgpack":
        body = msgpack.unpackb(payload, raw=False, timestamp=3)
    elif codec == "json":
        body = json.loads(payload.decode("utf-8"))
    else:
        raise ValueError(f"unknown codec {codec!r}")
    return {
        "kind": KIND_NAMES[kind],
        "type": type_,
        "messageId": message_id,
        "correlationId": correlation_id if correlation_id is not None else message_id,
        "causationId": causation_id,
        "createdAtMs": created_at,
        "headers": headers,
        "payload": body,
    }


def encode_frame(envelopes, compress=False):
    body = b"".join(struct.pack("<I", len(e)) + e for e in envelopes)
    if not compress:
        return MAGIC + bytes([1, 0]) + struct.pack("<I", len(envelopes)) + body
    packed = zstandard.ZstdCompressor(level=1).compress(body)
    return MAGIC + bytes([1, FLAG_ZSTD]) + struct.pack("<II", len(envelopes), len(body)) + packed


def decode_message(data, max_count=4096, max_body=16 * 1024 * 1024):
    """The envelopes in one NATS message: a CTG1 frame or a single envelope."""
    if not data.startswith(MAGIC):
        return [decode_envelope(data)]
    if len(data) < 10 or data[4] != 1 or data[5] & ~FLAG_ZSTD:
        raise ValueError("unsupported frame version or flags")
    (count,) = struct.unpack_from("<I", data, 6)
    if count > max_count:
        raise ValueError("too many envelopes")
    body = data[10:]
    if data[5] & FLAG_ZSTD:
        (size,) = struct.unpack_from("<I", data, 10)
        if size > max_body:
            raise ValueError("body too large")
        body = zstandard.ZstdDecompressor().decompress(data[14:], max_output_size=size)
        if len(body) != size:
            raise ValueError("body length differs from the header")
    envelopes, at = [], 0
    for _ in range(count):
        if at + 4 > len(body):
            raise ValueError("truncated frame")
        (length,) = struct.unpack_from("<I", body, at)
        at += 4
        if at + length > len(body):
            raise ValueError("truncated frame")
        envelopes.append(decode_envelope(body[at : at + length]))
        at += length
    if at != len(body):
        raise ValueError("trailing bytes in frame")
    return envelopes


def emit(line):
    print(json.dumps(line, default=str), flush=True)


async def listen(subject, queue, count):
    nc = await nats.connect(NATS_URL)
    seen = 0
    done = asyncio.Event()

    async def on_message(msg):
        nonlocal seen
        for envelope in decode_message(msg.data):
            emit({"compressed": msg.data.startswith(MAGIC) and bool(msg.data[5] & FLAG_ZSTD), **envelope})
            seen += 1
        if seen >= count:
            done.set()

    await nc.subscribe(subject, queue=queue, cb=on_message)
    await nc.flush()
    emit("READY")
    await asyncio.wait_for(done.wait(), timeout=30)
    await nc.drain()


async def publish(type_, payload, mode):
    nc = await nats.connect(NATS_URL)
    subject = f"{PREFIX}.evt.{type_}"
    if mode == "single":
        await nc.publish(subject, encode_envelope("event", type_, payload))
    else:
        envelopes = [encode_envelope("event", type_, {**payload, "index": i}) for i in range(3)]
        await nc.publish(subject, encode_frame(envelopes, compress=(mode == "zstd-frame")))
    await nc.flush()
    await nc.close()


async def request(type_, payload):
    nc = await nats.connect(NATS_URL)
    command = encode_envelope("command", type_, payload, headers={"origin": "python"})
    reply = await nc.request(f"{PREFIX}.cmd.{type_}", command, timeout=5)
    [answer] = decode_message(reply.data)
    emit({"kind": answer["kind"], "causationId": answer["causationId"], "result": answer["payload"],
          "sentMessageId": msgpack.unpackb(command)[3]})
    await nc.close()


def main(argv):
    command, *args = argv
    if command == "listen":
        asyncio.run(listen(args[0], args[1] or None, int(args[2])))
    elif command == "publish":
        asyncio.run(publish(args[0], json.loads(args[1]), args[2]))
    elif command == "request":
        asyncio.run(request(args[0], json.loads(args[1])))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
