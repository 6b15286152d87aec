"""MappingService endpoints (contract §4): thin translation to the agents use cases."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from application.agents.commands import (
    DEFAULT_PAGE_LIMIT,
    CreateAgentCommand,
    CreateIntentionCommand,
    PageQuery,
    UpdateAgentCommand,
    UpdateConfigCommand,
    UpdateIntentionCommand,
)
from entrypoints.http.agents.schemas import (
    AgentConfigBody,
    AgentConfigResponse,
    AgentListBodies,
    AgentListResponse,
    ConfigVersionBody,
    ConfigVersionListResponse,
    CreateAgentRequest,
    CreateAgentResponse,
    IntentionBody,
    IntentionListResponse,
    IntentionRequest,
    IntentionResponse,
    LeadBody,
    LeadListResponse,
    TemplateBody,
    TemplateListResponse,
    UpdateAgentConfigRequest,
    UpdateAgentConfigResponse,
    UpdateAgentRequest,
    UpdateAgentResponse,
    timestamp,
)
from entrypoints.http.conventions import EmptyResponse, Int64, Page, i64
from entrypoints.http.dependencies import ANY_CREDENTIAL, CallerDep, Deps

# Every credential kind is authenticated (a bad one is 16); the use cases refuse with 7 what
# the caller's role or scopes do not allow, and with 5 another tenant's agents.


# Process-wide, like the reader cache whose lists it follows; safe across apps (see class).
_AGENT_LISTS = AgentListBodies()


def _page(page: int, limit: int, total: int) -> Page:
    return Page(page=i64(page), limit=i64(limit), total=i64(total))


class TemplateController(Controller):
    path = "/mapping/v1/templates"
    tags = ["MappingService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="ListTemplates")
    async def list_templates(self, container: Deps, caller: CallerDep) -> TemplateListResponse:
        templates = await container.agents.list_templates(caller)
        return TemplateListResponse(templates=[TemplateBody.of(t) for t in templates])


class AgentController(Controller):
    path = "/mapping/v1/agents"
    tags = ["MappingService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="GetAgentList")
    async def list_agents(self, container: Deps, caller: CallerDep) -> AgentListResponse:
        return _AGENT_LISTS.response(await container.agents.list(caller))

    @post("", operation_id="CreateAgentFromTemplate", status_code=200)
    async def create_agent(
        self, data: JSONBody[CreateAgentRequest], container: Deps, caller: CallerDep
    ) -> CreateAgentResponse:
        agent = await container.agents.create(
            CreateAgentCommand(
                caller=caller,
                template_id=data.template_id,
                tenant_id=data.tenant_id,
                user_id=data.user_id,
                name=data.name,
                description=data.description,
                update_kb=data.update_kb,
                knowledge_base_ids=data.knowledge_base_ids or {},
                business_type=data.business_type,
                url=data.url,
                agent_type=data.agent_type,
            )
        )
        return CreateAgentResponse(
            agent_id=agent.id,
            name=agent.name,
            description=agent.description,
            created_at=timestamp(agent.created_at),
            updated_at=timestamp(agent.updated_at),
        )

    @put("/{agent_id:str}", operation_id="UpdateAgent")
    async def update_agent(
        self,
        agent_id: FromPath[str],
        data: JSONBody[UpdateAgentRequest],
        container: Deps,
        caller: CallerDep,
    ) -> UpdateAgentResponse:
        agent = await container.agents.update(
            UpdateAgentCommand(
                caller=caller, agent_id=agent_id, name=data.name, description=data.description
            )
        )
        return UpdateAgentResponse(
            agent_id=agent.id,
            name=agent.name,
            description=agent.description,
            updated_at=timestamp(agent.updated_at),
        )

    @delete("/{agent_id:str}", operation_id="DeleteAgent", status_code=200)
    async def delete_agent(
        self, agent_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.agents.delete(caller, agent_id)
        return EmptyResponse()


class AgentConfigController(Controller):
    path = "/mapping/v1/agents/{agent_id:str}/config"
    tags = ["MappingService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="GetAgentConfig")
    async def get_config(
        self, agent_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> AgentConfigResponse:
        view = await container.agents.get_config(caller, agent_id)
        return AgentConfigResponse(
            id=view.id,
            agent_id=view.agent_id,
            config=AgentConfigBody.of(view.config),
            created_at=timestamp(view.created_at),
            updated_at=timestamp(view.updated_at),
        )

    @put("", operation_id="UpdateAgentConfig")
    async def update_config(
        self,
        agent_id: FromPath[str],
        data: JSONBody[UpdateAgentConfigRequest],
        container: Deps,
        caller: CallerDep,
    ) -> UpdateAgentConfigResponse:
        version = await container.agents.update_config(
            UpdateConfigCommand(
                caller=caller, agent_id=agent_id, config=data.to_config(), user_id=data.user_id
            )
        )
        return UpdateAgentConfigResponse(
            agent_id=version.agent_id,
            config=AgentConfigBody.of(version.config),
            updated_at=timestamp(version.created_at),
        )

    @get("/versions", operation_id="ListAgentConfigVersions")
    async def list_versions(
        self,
        agent_id: FromPath[str],
        container: Deps,
        caller: CallerDep,
        page: FromQuery[Int64] = Int64(1),
        limit: FromQuery[Int64] = Int64(DEFAULT_PAGE_LIMIT),
    ) -> ConfigVersionListResponse:
        result = await container.agents.config_versions(
            PageQuery(caller=caller, agent_id=agent_id, page=page, limit=limit)
        )
        return ConfigVersionListResponse(
            versions=[ConfigVersionBody.of(v) for v in result.versions],
            page=_page(result.page, result.limit, result.total),
        )


class IntentionController(Controller):
    path = "/mapping/v1/agents/{agent_id:str}/intentions"
    tags = ["MappingService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="GetAgentIntentions")
    async def list_intentions(
        self, agent_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> IntentionListResponse:
        intentions = await container.agents.list_intentions(caller, agent_id)
        return IntentionListResponse(
            agent_id=agent_id, intentions=[IntentionBody.of(i) for i in intentions]
        )

    @post("", operation_id="CreateAgentIntention", status_code=200)
    async def create_intention(
        self,
        agent_id: FromPath[str],
        data: JSONBody[IntentionRequest],
        container: Deps,
        caller: CallerDep,
    ) -> IntentionResponse:
        intention = await container.agents.create_intention(
            CreateIntentionCommand(caller=caller, agent_id=agent_id, intention=data.to_input())
        )
        return IntentionResponse(intention=IntentionBody.of(intention))

    @put("/{intention_id:str}", operation_id="UpdateAgentIntention")
    async def update_intention(
        self,
        agent_id: FromPath[str],
        intention_id: FromPath[str],
        data: JSONBody[IntentionRequest],
        container: Deps,
        caller: CallerDep,
    ) -> IntentionResponse:
        intention = await container.agents.update_intention(
            UpdateIntentionCommand(
                caller=caller,
                agent_id=agent_id,
                intention_id=intention_id,
                intention=data.to_input(),
            )
        )
        return IntentionResponse(intention=IntentionBody.of(intention))

    @delete("/{intention_id:str}", operation_id="DeleteAgentIntention", status_code=200)
    async def delete_intention(
        self,
        agent_id: FromPath[str],
        intention_id: FromPath[str],
        container: Deps,
        caller: CallerDep,
    ) -> EmptyResponse:
        await container.agents.delete_intention(caller, agent_id, intention_id)
        return EmptyResponse()


class LeadController(Controller):
    path = "/mapping/v1/agents/{agent_id:str}/leads"
    tags = ["MappingService"]
    dependencies = ANY_CREDENTIAL

    @get("", operation_id="GetAgentLeadList")
    async def list_leads(
        self,
        agent_id: FromPath[str],
        container: Deps,
        caller: CallerDep,
        page: FromQuery[Int64] = Int64(1),
        limit: FromQuery[Int64] = Int64(DEFAULT_PAGE_LIMIT),
    ) -> LeadListResponse:
        result = await container.agents.list_leads(
            PageQuery(caller=caller, agent_id=agent_id, page=page, limit=limit)
        )
        return LeadListResponse(
            leads=[LeadBody.of(lead) for lead in result.leads],
            page=_page(result.page, result.limit, result.total),
        )

    @delete("/{lead_id:str}", operation_id="DeleteAgentLead", status_code=200)
    async def delete_lead(
        self, agent_id: FromPath[str], lead_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> EmptyResponse:
        await container.agents.delete_lead(caller, agent_id, lead_id)
        return EmptyResponse()
