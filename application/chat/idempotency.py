"""Idempotency-Key of Chat: the request fingerprint, the stored first attempt, its replay."""

from __future__ import annotations

from application.chat.commands import ChatTurnRequest
from application.chat.turn import AnswerDelta, ChatTurn, TurnFailed, TurnFinished, TurnUsage
from application.common.ports import UnitOfWork
from domain.chat.models import Message, MessageStatus
from domain.chat.rules import IDEMPOTENCY_FIELD, request_hash
from domain.errors import AstraError, ErrorCode, InvalidArgument, ResourceExhausted

# A retry that finds its first attempt still running is asked to come back this much later.
PENDING_RETRY_AFTER = 1


def fingerprint(request: ChatTurnRequest) -> str:
    return request_hash(
        agent_id=request.agent_id,
        external_user_id=request.external_user_id,
        conversation_id=request.conversation_id,
        message_content=request.message_content,
        inputs=request.inputs,
        source=request.source,
    )


async def stored_attempt(
    uow: UnitOfWork, tenant_id: str, key: str, request_fingerprint: str
) -> Message | None:
    """The finished first attempt of this idempotent request, if any.

    - Another request under the key → `InvalidArgument` naming `Idempotency-Key`.
    - The first attempt still running → `ResourceExhausted`, retry after a second.
    """
    if not key:
        return None
    stored = await uow.messages.get_by_idempotency_key(tenant_id, key)
    if stored is None:
        return None
    if stored.request_hash != request_fingerprint:
        raise InvalidArgument(IDEMPOTENCY_FIELD, "was already used for a different request")
    if stored.status is MessageStatus.PENDING:
        raise ResourceExhausted(
            "the first request with this Idempotency-Key is still being answered",
            retry_after=PENDING_RETRY_AFTER,
        )
    return stored


_ERRORS: dict[int, type[AstraError]] = {
    int(cls.code): cls for cls in AstraError.__subclasses__() if cls is not InvalidArgument
}


def stored_error(code: int) -> AstraError:
    """The error a failed first attempt answered, rebuilt for its replay."""
    if code == ErrorCode.INVALID_ARGUMENT:
        return InvalidArgument("message_content", "the first request with this key failed")
    return _ERRORS.get(code, AstraError)("the first request with this Idempotency-Key failed")


def replayed_turn(stored: Message, balance: int) -> ChatTurn:
    """A finished turn that tells the stored reply again: no model call, no charge."""
    turn = ChatTurn(
        task_id=stored.task_id,
        message_id=stored.id,
        conversation_id=stored.conversation_id,
        created_at=stored.created_at,
        tenant_id=stored.tenant_id,
        agent_id=stored.agent_id,
        replayed=True,
    )
    if stored.status is MessageStatus.FAILED:
        turn.emit(TurnFailed(stored_error(stored.error_code)))
    else:
        if stored.content:
            turn.emit(AnswerDelta(stored.content))
        usage = TurnUsage(stored.prompt_tokens, stored.completion_tokens, 0.0)
        turn.emit(TurnFinished(stored.content, stored.status, usage, stored.credits, balance))
    turn.close()
    return turn
