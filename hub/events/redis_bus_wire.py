"""What the Redis bus keeps in Redis and sends on its channels (see ``hub.events.redis_bus``): the Lua
scripts that publish and read a stream's window, and the JSON an event travels as."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from hub.events.bus import StreamEvent

# Both scripts start here: the stream's epoch, set from ARGV[1] if it has none yet. KEYS[1] is the epoch.
_EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch, 'NX')
end
"""

# KEYS: epoch, seq, log. ARGV: epoch if none yet, window, channel, body (a JSON object), "1" if transient.
PUBLISH_SCRIPT = (
    _EPOCH
    + """
local transient = ARGV[5] == '1'
local seq
if transient then
  seq = tonumber(redis.call('GET', KEYS[2]) or '0')
else
  seq = redis.call('INCR', KEYS[2])
end
local number = string.format('%d', seq)
local message = '{"seq":' .. number .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[4], 2)
if not transient then
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[2], number .. '-1', 'e', message)
end
redis.call('PUBLISH', ARGV[3], message)
return {seq, epoch}
"""
)

# KEYS: epoch, seq, log. ARGV: epoch if none yet, since ('' for none), the epoch the caller saw.
READ_SCRIPT = (
    _EPOCH
    + """
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local entries = {}
if ARGV[2] ~= '' and ARGV[3] == epoch then
  local since = tonumber(ARGV[2])
  if since >= 0 and since < seq then
    entries = redis.call('XRANGE', KEYS[3], string.format('%d', since + 1), '+')
  end
end
return {seq, epoch, entries}
"""
)


class Body(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """A ``StreamEvent`` without ``seq`` and ``epoch``: the publish script puts those in front."""

    tenant_id: uuid.UUID
    stream: str
    event: str
    event_id: str | None = None
    transient: bool = False
    payload: Any = None


class Stored(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    tenant_id: uuid.UUID
    stream: str
    seq: int
    epoch: str
    event: str
    payload: msgspec.Raw = msgspec.Raw(b"null")
    event_id: str | None = None
    transient: bool = False


live_decoder = msgspec.json.Decoder(StreamEvent)
stored_decoder = msgspec.json.Decoder(Stored)


def replayed(data: bytes | str) -> StreamEvent:
    s = stored_decoder.decode(data)
    return StreamEvent(
        tenant_id=s.tenant_id,
        stream=s.stream,
        seq=s.seq,
        epoch=s.epoch,
        event=s.event,
        payload=s.payload,
        event_id=s.event_id,
        transient=s.transient,
    )


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
