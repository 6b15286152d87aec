"""The end of a chat turn: its reply made final and its credits settled or released, once.

Two writers may try to end the same turn — the live turn and recovery (a turn whose process
died, or whose end could not be written in time). Whoever moves the reply out of `pending`
(or, on PostgreSQL, resolves the RESERVED reservation: one statement does both) owns the
accounting; the other changes nothing and is told so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from application.billing.ledger import CreditLedger
from application.chat.ports import FinalReply
from application.common.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """Which stored rows one turn's end writes."""

    tenant_id: str
    conversation_id: str
    message_id: str  # the assistant reply, also the ledger key
    reserved: int  # credits held for it (0: chat is free, no reservation)


class TurnAccounting:
    """Ends turns by the charging rule the caller computed into `FinalReply.credits`."""

    def __init__(self, uow: UnitOfWorkFactory, ledger: CreditLedger) -> None:
        self._uow = uow
        self._ledger = ledger

    async def finish(self, turn: StoredTurn, reply: FinalReply, now: datetime) -> int | None:
        """Write `reply` onto the pending reply, count it in the conversation, settle
        `reply.credits` of the reservation (0: release it), all or nothing; returns the
        tenant's balance afterwards.

        None, with nothing written, when the reply is no longer pending: someone else
        ended the turn (or an earlier attempt of the caller did, and its answer was lost).
        """
        if turn.reserved:
            balance = await self._finish_at_once(turn, reply, now)
            if balance is not None:
                return balance
        return await self._finish_in_steps(turn, reply, now)

    async def _finish_at_once(
        self, turn: StoredTurn, reply: FinalReply, now: datetime
    ) -> int | None:
        """One statement where the storage has it (PostgreSQL); None: use the steps."""
        async with self._uow() as uow:
            turns = uow.messages.atomic_turns()
            if turns is None:
                return None
            # The due grants, like `balance_in` does (committed: the statement runs alone).
            await self._ledger.commit_due(uow, turn.tenant_id, now)
        return await turns.finish(turn.tenant_id, turn.conversation_id, turn.message_id, reply, now)

    async def _finish_in_steps(
        self, turn: StoredTurn, reply: FinalReply, now: datetime
    ) -> int | None:
        # One transaction, rows in the start's lock order (conversation, then the tenant's
        # grants) so a start and an end of one conversation cannot deadlock; the grants come
        # last, so they stay locked only until the commit right after. The conditional
        # reply update comes first: it decides who ends the turn.
        async with self._uow() as uow:
            if not await uow.messages.finish(turn.tenant_id, turn.message_id, reply):
                return None
            await uow.conversations.record_messages(turn.tenant_id, turn.conversation_id, 1, now)
            if turn.reserved and reply.credits:
                await self._ledger.settle_in(uow, turn.message_id, reply.credits, now)
            elif turn.reserved:
                await self._ledger.release_in(uow, turn.message_id, now)
            balance = await self._ledger.balance_in(uow, turn.tenant_id, now)
            await uow.commit()
        return balance
