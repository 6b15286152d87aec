"""ListConversations and ListConversationMessages: an end user's chat history, paged."""

from __future__ import annotations

from application.chat.commands import (
    ConversationPage,
    ListConversationsQuery,
    ListMessagesQuery,
    MessagePage,
)
from application.common.paging import page_offset
from application.common.ports import UnitOfWorkFactory
from application.tenancy.access import authorize
from domain.chat.models import MessageStatus
from domain.errors import NotFound
from domain.tenancy.policy import Action


class ListConversations:
    """The caller's tenant's conversations, most recently active first.

    - `agent_id` / `external_user_id` narrow the list when given.
    - Same credentials as Chat; §1.5 paging (`InvalidArgument` naming `page` or `limit`).
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListConversationsQuery) -> ConversationPage:
        offset = page_offset(query.page, query.limit)
        async with self._uow() as uow:
            access = await authorize(uow, query.caller, Action.CHAT)
            conversations, total = await uow.conversations.list(
                access.tenant_id, query.agent_id, query.external_user_id, offset, query.limit
            )
        return ConversationPage(conversations, query.page, query.limit, total)


class ListConversationMessages:
    """One conversation's messages, oldest first.

    - A conversation of another tenant, or none → `NotFound`.
    - Replies still being produced (`pending`) are left out: the contract's statuses are
      completed, aborted and failed. The total is the conversation's message count, which
      counts a reply only once it is final.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListMessagesQuery) -> MessagePage:
        offset = page_offset(query.page, query.limit)
        async with self._uow() as uow:
            access = await authorize(uow, query.caller, Action.CHAT)
            conversation = await uow.conversations.get(access.tenant_id, query.conversation_id)
            if conversation is None:
                raise NotFound("conversation not found")
            messages, _ = await uow.messages.list(
                access.tenant_id, query.conversation_id, offset, query.limit
            )
        shown = [m for m in messages if m.status is not MessageStatus.PENDING]
        return MessagePage(shown, query.page, query.limit, conversation.message_count)
