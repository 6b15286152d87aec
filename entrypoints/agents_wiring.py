"""Wires the agent, config, intention, lead and template use cases to the chosen adapters."""

from __future__ import annotations

from dataclasses import dataclass

from application.agents.agents import (
    CreateAgentFromTemplate,
    DeleteAgent,
    GetAgentList,
    ListTemplates,
    UpdateAgent,
)
from application.agents.config import GetAgentConfig, ListAgentConfigVersions, UpdateAgentConfig
from application.agents.intentions import (
    CreateAgentIntention,
    DeleteAgentIntention,
    GetAgentIntentions,
    UpdateAgentIntention,
)
from application.agents.leads import DeleteLead, ListLeads, RecordLead
from application.agents.ports import AgentReader, TemplateCatalog
from application.agents.templates import BundledTemplateCatalog
from application.billing.subscriptions import BillingPolicy
from application.common.ports import Clock, IdGenerator, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AgentUseCases:
    templates: TemplateCatalog
    list_templates: ListTemplates
    create: CreateAgentFromTemplate
    list: GetAgentList
    update: UpdateAgent
    delete: DeleteAgent
    get_config: GetAgentConfig
    update_config: UpdateAgentConfig
    config_versions: ListAgentConfigVersions
    list_intentions: GetAgentIntentions
    create_intention: CreateAgentIntention
    update_intention: UpdateAgentIntention
    delete_intention: DeleteAgentIntention
    list_leads: ListLeads
    delete_lead: DeleteLead
    record_lead: RecordLead  # the chat capability's `LeadRecorder`


def wire_agents(
    *,
    uow: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    reader: AgentReader,
    billing_policy: BillingPolicy,
    templates: TemplateCatalog | None = None,
) -> AgentUseCases:
    catalog = templates if templates is not None else BundledTemplateCatalog.bundled()
    return AgentUseCases(
        templates=catalog,
        list_templates=ListTemplates(uow, catalog),
        create=CreateAgentFromTemplate(uow, catalog, ids, clock, billing_policy),
        list=GetAgentList(uow, reader),
        update=UpdateAgent(uow, clock),
        delete=DeleteAgent(uow),
        get_config=GetAgentConfig(uow),
        update_config=UpdateAgentConfig(uow, ids, clock),
        config_versions=ListAgentConfigVersions(uow),
        list_intentions=GetAgentIntentions(uow),
        create_intention=CreateAgentIntention(uow, ids, clock),
        update_intention=UpdateAgentIntention(uow, clock),
        delete_intention=DeleteAgentIntention(uow),
        list_leads=ListLeads(uow),
        delete_lead=DeleteLead(uow),
        record_lead=RecordLead(uow, ids, clock),
    )
