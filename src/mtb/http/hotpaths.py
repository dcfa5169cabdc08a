"""The hot GET routes answered one layer in, without FastAPI's routing.

The status read, the full read, the eligibility check and the review queue read their own parameters
(mtb/direct/params.py) and their own statements (mtb/direct), so by the time they run, what is left of
the framework is getting there: the exception middleware, the exit-stack middleware, the router walking
the included routers, and the request/response wrapper, a quarter of the request's CPU (docs/benchmarks.md).
This layer sits inside the body limit and the edge (headers, log, metrics) and, for a GET whose path is
one of these routes, calls the route's own endpoint with the route set in the scope, as FastAPI would,
and turns an exception into the answer of the app's handler for it, as Starlette's exception middleware
would. Everything else, and every other method on these paths, goes on to FastAPI.

The routes stay declared on their routers (the OpenAPI schema, and the same answers without this layer:
tests/test_hotpaths.py compares both).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mtb.outage import failure_of

Endpoint = Callable[[Request], Awaitable[Response]]
_PARAM = re.compile(r"{(\w+)}")


class _Hot:
    def __init__(self, route: APIRoute) -> None:
        self.route = route
        self.endpoint: Endpoint = route.endpoint
        # Path parameters as one path segment, as Starlette's default `str` convertor matches them.
        self.regex = re.compile("^" + _PARAM.sub(r"(?P<\1>[^/]+)", re.escape(route.path).replace(r"\{", "{")
                                                 .replace(r"\}", "}")) + "$")


class HotPaths:
    def __init__(self, app: ASGIApp, *, fastapi: FastAPI, endpoints: tuple[Callable[..., Any], ...]) -> None:
        self.app = app
        self.fastapi = fastapi
        self.endpoints = endpoints
        self._hot: list[_Hot] | None = None

    def _routes(self) -> list[_Hot]:
        """The APIRoutes of `endpoints`, found once the app's routes are all in place (first request)."""
        if self._hot is None:
            found = {id(r.endpoint): r for r in _api_routes(self.fastapi) if r.methods == {"GET"}}
            missing = [e.__qualname__ for e in self.endpoints if id(e) not in found]
            if missing:
                raise RuntimeError(f"hot paths without a GET route: {missing}")
            self._hot = [_Hot(found[id(e)]) for e in self.endpoints]
        return self._hot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        for hot in self._routes():
            match = hot.regex.match(path)
            if match is not None:
                break
        else:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.fastapi
        scope["route"] = hot.route
        scope["endpoint"] = hot.endpoint
        scope["path_params"] = match.groupdict()
        request = Request(scope, receive)
        try:
            response = await hot.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None and (failure := failure_of(exc)) is not None:
                exc, handler = failure, self._handler_for(failure)  # 503/507, as the app's handlers answer
            if handler is None:
                raise  # the server error middleware answers 500 (and logs)
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
        handlers = self.fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]  # type: ignore[no-any-return]
        return None


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute of the app, from the included routers too."""
    out: list[APIRoute] = []
    stack: list[Any] = list(app.router.routes)
    while stack:
        route = stack.pop(0)
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return out
