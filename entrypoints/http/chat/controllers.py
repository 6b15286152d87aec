"""Chat endpoints (contract §6): thin translation; framing of turns lives in `sse.py`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from application.chat.commands import (
    DEFAULT_PAGE_LIMIT,
    ChatTurnRequest,
    ListConversationsQuery,
    ListMessagesQuery,
    StopChatCommand,
)
from application.chat.turn import ChatTurn, TurnFailed
from domain.chat.rules import ResponseMode, parse_response_mode
from domain.errors import Unavailable
from entrypoints.http.chat.schemas import (
    BlockingChatResponse,
    ChatRequest,
    ConversationBody,
    ConversationListResponse,
    MessageBody,
    MessageListResponse,
    MetadataBody,
    StopChatRequest,
    StopChatResponse,
    unix_seconds,
)
from entrypoints.http.chat.sse import sse_response
from entrypoints.http.conventions import Int64, Page, i64
from entrypoints.http.dependencies import ANY_CREDENTIAL, CallerDep, Deps
from entrypoints.http.request_id import STARTED_STATE_KEY
from entrypoints.telemetry import tag_current_span


def _tag(turn: ChatTurn, **more: str) -> None:
    tag_current_span(
        {
            "tenant.id": turn.tenant_id,
            "agent.id": turn.agent_id,
            "conversation.id": turn.conversation_id,
            **more,
        }
    )


async def _client_gone(request: Request[Any, Any, Any]) -> None:
    """Returns when the client hung up (the body was read already, so only that can come)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _blocking(request: Request[Any, Any, Any], turn: ChatTurn) -> BlockingChatResponse:
    result_task = asyncio.create_task(turn.result())
    gone_task = asyncio.create_task(_client_gone(request))
    try:
        await asyncio.wait({result_task, gone_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone_task.cancel()
        if not result_task.done():
            # The client left, or the server gave up on the request: stop the model call;
            # the producer task settles what was produced on its own.
            turn.request_abort()
            result_task.cancel()
    if not result_task.done() or result_task.cancelled():
        # Nobody reads this answer; it only ends the request quietly.
        raise Unavailable("the client closed the connection")
    result = result_task.result()
    if isinstance(result, TurnFailed):
        raise result.error
    _tag(turn, **{"credits.debited": str(result.debited)})
    return BlockingChatResponse(
        event="message",
        task_id=turn.task_id,
        id=turn.message_id,
        message_id=turn.message_id,
        conversation_id=turn.conversation_id,
        mode="chat",
        answer=result.answer,
        metadata=MetadataBody.of(result.usage, result.debited, result.balance),
        created_at=unix_seconds(turn),
    )


class ChatController(Controller):
    path = "/chat/v1"
    tags = ["chat"]
    dependencies = ANY_CREDENTIAL

    @post(
        "/messages",
        operation_id="Chat",
        status_code=200,
        responses={
            200: ResponseSpec(
                data_container=BlockingChatResponse,
                description="blocking: this JSON; streaming: text/event-stream of "
                "`data: {event: message|message_end|error, ...}` frames and `event: ping`",
            )
        },
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatRequest],
        container: Deps,
        caller: CallerDep,
        idempotency_key: Annotated[str, HeaderParameter(name="Idempotency-Key")] = "",
    ) -> Response[Any]:
        """Send a message; `response_mode` "blocking" answers JSON, "streaming" SSE.

        Every refusal (16, 7, 5, 8, 9, 3, 14) is a JSON error before any stream opens; a
        failure after a stream opened is its `error` event.
        """
        turn = await container.chat.send.start(
            ChatTurnRequest(
                caller=caller,
                agent_id=data.agent_id,
                external_user_id=data.external_user_id,
                message_content=data.message_content,
                tenant_id=data.tenant_id,
                response_mode=data.response_mode,
                conversation_id=data.conversation_id,
                inputs=data.inputs or {},
                source=data.source,
                idempotency_key=idempotency_key,
            )
        )
        _tag(turn)
        if parse_response_mode(data.response_mode) is ResponseMode.STREAMING:
            started_at = request.scope["state"].get(STARTED_STATE_KEY)
            return sse_response(turn, container.settings.chat_ping_seconds, started_at)
        return Response(await _blocking(request, turn))

    @post("/messages/{task_id:str}/stop", operation_id="StopChat", status_code=200)
    async def stop(
        self,
        task_id: FromPath[str],
        data: JSONBody[StopChatRequest],
        container: Deps,
        caller: CallerDep,
    ) -> StopChatResponse:
        await container.chat.stop(
            StopChatCommand(caller=caller, task_id=task_id, external_user_id=data.external_user_id)
        )
        return StopChatResponse(result="success")

    @get("/conversations", operation_id="ListConversations")
    async def list_conversations(
        self,
        container: Deps,
        caller: CallerDep,
        agent_id: FromQuery[str] = "",
        external_user_id: FromQuery[str] = "",
        page: FromQuery[Int64] = Int64(1),
        limit: FromQuery[Int64] = Int64(DEFAULT_PAGE_LIMIT),
    ) -> ConversationListResponse:
        result = await container.chat.list_conversations(
            ListConversationsQuery(
                caller=caller,
                agent_id=agent_id,
                external_user_id=external_user_id,
                page=page,
                limit=limit,
            )
        )
        return ConversationListResponse(
            conversations=[ConversationBody.of(c) for c in result.conversations],
            page=Page(page=i64(result.page), limit=i64(result.limit), total=i64(result.total)),
        )

    @get("/conversations/{conversation_id:str}/messages", operation_id="ListConversationMessages")
    async def list_messages(
        self,
        conversation_id: FromPath[str],
        container: Deps,
        caller: CallerDep,
        page: FromQuery[Int64] = Int64(1),
        limit: FromQuery[Int64] = Int64(DEFAULT_PAGE_LIMIT),
    ) -> MessageListResponse:
        result = await container.chat.list_messages(
            ListMessagesQuery(
                caller=caller, conversation_id=conversation_id, page=page, limit=limit
            )
        )
        return MessageListResponse(
            messages=[MessageBody.of(m) for m in result.messages],
            page=Page(page=i64(result.page), limit=i64(result.limit), total=i64(result.total)),
        )
