"""Users' open sockets follow sign-outs, revoked API tokens and changed users, on every hub node.

A socket is authenticated once, when it connects; its principal is what it may do until it closes. So when
a browser session signs out, an API token is revoked, or a user is deactivated, deleted or gets another
role or store (``hub.http.auth``, ``hub.http.tokens``, ``hub.http.users``), the sockets concerned close: a
session's or a token's own sockets (4401, ``CLOSE_REVOKED``: signed out, the page goes to the login), or
every socket of the user (4409, ``CLOSE_CHANGED``: reconnect at once). They reconnect with what holds now,
or are refused (4401 for a user deactivated, deleted or whose sessions ended; 4403 as for any socket).

The request's transaction writes the notice (``announce``) to the tenant's control stream, the node that
served it closes its own sockets at once after the commit (``close``), and every other node holding
sockets of the tenant closes its own when it hears it (``heard``, via ``hub.control``).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth.principal import Principal
from hub.events.outbox import emit
from schema.messages.control_notices import (
    CONTROL_STREAM,
    SessionRevoked,
    TokenRevoked,
    UserChanged,
    UserNotice,
)

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.auth.revocation")

# A session signed out or a token revoked: that credential is gone for good, so clients stop (the login).
CLOSE_REVOKED = 4401
# The user changed (role, store, deactivated, deleted, sessions ended): the credential may still hold, with
# other rights. Clients reconnect at once and get the new principal, or 4401/4403 if it no longer holds.
CLOSE_CHANGED = 4409
N = TypeVar("N", bound=UserNotice)


def closes(notice: UserNotice, principal: Principal) -> bool:
    """Whether ``notice`` (of the principal's tenant) ends a socket of ``principal``."""
    if principal.kind != "user" or principal.user_id != notice.user_id:
        return False
    match notice:
        case SessionRevoked(session_id=session_id):
            return principal.session_id == session_id
        case TokenRevoked(token_id=token_id):
            return principal.token_id == token_id
        case UserChanged():
            return True
    return False


class UserSockets:
    def __init__(self, services: Services) -> None:
        self.services = services

    def notice(self, kind: type[N], user_id: uuid.UUID, **fields: Any) -> N:
        return self.services.control.notice(kind, user_id=user_id, **fields)

    def announce(self, session: AsyncSession, notice: UserNotice) -> None:
        """Tell every hub node, once ``session`` commits (this one acts on it itself: ``close``)."""
        emit(session, CONTROL_STREAM, type(notice).__name__, notice)

    def close(self, tenant_id: uuid.UUID, notice: UserNotice) -> int:
        """Close this node's sockets that ``notice`` ends; returns how many were closed."""
        closed = 0
        code, reason = _CLOSES.get(type(notice), (CLOSE_REVOKED, "signed out"))
        for conn in list(self.services.sockets):
            principal = conn.principal
            if principal.tenant_id == tenant_id and closes(notice, principal):
                conn.disconnect(code, reason)
                closed += 1
        return closed

    def heard(self, tenant_id: uuid.UUID, notice: UserNotice) -> None:
        """Another node's change (a bus listener: must not block)."""
        closed = self.close(tenant_id, notice)
        if closed:
            log.info(
                "tenant %s: %s of user %s heard; %d sockets closed",
                tenant_id,
                type(notice).__name__,
                notice.user_id,
                closed,
            )


_CLOSES: dict[type[UserNotice], tuple[int, str]] = {
    SessionRevoked: (CLOSE_REVOKED, "signed out"),
    TokenRevoked: (CLOSE_REVOKED, "token revoked"),
    UserChanged: (CLOSE_CHANGED, "user changed: reconnect"),
}
