"""Registers' shared state in Redis, for hub nodes that run side by side (see ``actors.register_state``).

Keys, per register: ``<prefix>register:<tenant>:<register>`` a hash of ``version`` and ``state`` (the
msgpack of a ``SavedState``), kept ``STATE_TTL_SECONDS`` after its last change (a till left alone for
longer starts with an empty cart, as after a hub restart); ``...:reading`` the scale's latest reading,
gone after ``READING_TTL_SECONDS``. The version check and the write are one Lua script, so two nodes
changing one cart at once cannot both win.

Redis being away must not stop a till: the errors come out as ``UnavailableError`` and the RegisterActor
carries on with its own copy.
"""

from __future__ import annotations

import uuid

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actors.register_state import SavedState, SharedReading
from schema.errors import UnavailableError

STATE_TTL_SECONDS = 12 * 3600
READING_TTL_SECONDS = 2.0  # a reading older than this is stale anyway (actors.register.SCALE_MAX_AGE_SECONDS)

# KEYS[1] the register's hash; ARGV[1] the expected version ('' for any), ARGV[2] the new version,
# ARGV[3] the encoded state, ARGV[4] the ttl in ms. Stored: 1. Not: the stored state.
_SWAP = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and ARGV[1] ~= '' and current ~= ARGV[1] then
    return redis.call('HGET', KEYS[1], 'state')
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

_state = msgspec.msgpack.Decoder(SavedState)
_reading = msgspec.msgpack.Decoder(SharedReading)
_encode = msgspec.msgpack.Encoder().encode


class RedisRegisterState:
    shared = True

    def __init__(self, redis: Redis, *, prefix: str = "storehub:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._swap = redis.register_script(_SWAP)

    def _key(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> str:
        return f"{self.prefix}register:{tenant_id}:{register_id}"

    async def load(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SavedState | None:
        try:
            data = await self.redis.hget(self._key(tenant_id, register_id), "state")
        except (RedisError, OSError) as exc:
            raise UnavailableError(f"register state unreachable: {exc}") from exc
        return None if data is None else _state.decode(_bytes(data))

    async def swap(
        self, tenant_id: uuid.UUID, register_id: uuid.UUID, expected: int | None, state: SavedState
    ) -> SavedState | None:
        expect = "" if expected is None else str(expected)
        args: list[bytes | str | int] = [
            expect,
            str(state.version),
            _encode(state),
            int(STATE_TTL_SECONDS * 1000),
        ]
        try:
            answer = await self._swap(keys=[self._key(tenant_id, register_id)], args=args, client=self.redis)
        except (RedisError, OSError) as exc:
            raise UnavailableError(f"register state unreachable: {exc}") from exc
        return None if answer == 1 else _state.decode(_bytes(answer))

    async def put_reading(self, tenant_id: uuid.UUID, register_id: uuid.UUID, reading: SharedReading) -> None:
        key = self._key(tenant_id, register_id) + ":reading"
        try:
            await self.redis.set(key, _encode(reading), px=int(READING_TTL_SECONDS * 1000))
        except (RedisError, OSError) as exc:
            raise UnavailableError(f"register state unreachable: {exc}") from exc

    async def reading(self, tenant_id: uuid.UUID, register_id: uuid.UUID) -> SharedReading | None:
        try:
            data = await self.redis.get(self._key(tenant_id, register_id) + ":reading")
        except (RedisError, OSError) as exc:
            raise UnavailableError(f"register state unreachable: {exc}") from exc
        return None if data is None else _reading.decode(_bytes(data))


def _bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data
