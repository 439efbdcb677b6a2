"""The app's state as route dependencies: settings, the served assistant, the stores, builds, templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from ..config import Settings
from ..operators import OperatorStore
from ..operators.builds import BuildRunner
from ..service import Assistant
from ..userdata import UserStore

__all__ = [
    "AssistantDep",
    "BuildsDep",
    "OperatorsDep",
    "SettingsDep",
    "StoreDep",
    "TemplatesDep",
    "get_assistant",
    "get_builds",
    "get_operators",
    "get_settings",
    "get_store",
    "get_templates",
]

# Each is a coroutine: FastAPI calls it on the event loop, where a plain function would take a worker
# thread just to read an attribute.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_assistant(request: Request) -> Assistant:
    # One reference per request: a reload swaps app.state.assistant whole, never mutates it.
    return request.app.state.assistant


async def get_store(request: Request) -> UserStore:
    """The store of conversations and feedback."""
    return request.app.state.userdata


async def get_operators(request: Request) -> OperatorStore:
    """The operator area's store: accounts, sessions, uploads, builds, the audit log."""
    return request.app.state.operators


async def get_builds(request: Request) -> BuildRunner:
    return request.app.state.builds


async def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


SettingsDep = Annotated[Settings, Depends(get_settings)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
StoreDep = Annotated[UserStore, Depends(get_store)]
OperatorsDep = Annotated[OperatorStore, Depends(get_operators)]
BuildsDep = Annotated[BuildRunner, Depends(get_builds)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
