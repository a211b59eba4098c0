"""The zone an API request's reports and day counts follow: the business's reporting time zone, i.e. the key's
workspace's (its profile; the installation's BILLFLOW_REPORTING_TIMEZONE became the first workspace's at the
upgrade), the installation's if the workspace is unknown."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from billflow.repositories import workspaces as workspaces_repo
from billflow.web.auth import ViewerDep
from billflow.web.deps import SessionDep, SettingsDep


async def reporting_zone(session: SessionDep, principal: ViewerDep, settings: SettingsDep) -> str:
    zone = await workspaces_repo.reporting_timezone(session, workspace_id=principal.workspace_id)
    return zone or settings.reporting_timezone


ZoneDep = Annotated[str, Depends(reporting_zone)]
