"""The FastAPI application: pages, REST API, and one mapping of errors to HTTP statuses."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from fossp.errors import FosspError
from fossp.gate.db import open_database
from fossp.gate.errors import Invalid
from fossp.gate.service import GateService
from fossp.gate.sessions import SessionStore
from fossp.web import api, infra_api, pages
from fossp.web.auth import NotSignedIn
from fossp.web.throttle import Throttle, Throttled

STATIC = Path(__file__).resolve().parent / "static"
SWAGGER_UI = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_FILES = "/api/v1/docs-files"


def status_of(error: FosspError) -> int:
    """409 refused, 403 forbidden, 404 not found, 422 invalid; other bad input is 400."""
    status: int = getattr(error, "status", 400)
    return status


def _api_error(error: FosspError) -> JSONResponse:
    if isinstance(error, Invalid):
        detail = [{"loc": ["body", error.field], "msg": error.reason, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else None
    return JSONResponse({"detail": error.message}, status_code=status_of(error), headers=headers)


def create_app(db_url: str | None = None, throttle: Throttle | None = None) -> FastAPI:
    """The web console over the database at ``db_url`` (default as for the CLI)."""
    db = open_database(db_url)
    app = FastAPI(
        title="FOSSP stage gate reviews",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = GateService(db)
    app.state.sessions = SessionStore(db)
    app.state.throttle = throttle or Throttle()
    app.include_router(api.router)
    app.include_router(pages.router)
    infra_api.install(app, db)  # the Infrastructure Tool's routers, run worker and folder
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(DOCS_FILES, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")

    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI from the fastapi-offline package's files, never from a CDN."""
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="FOSSP API",
            swagger_js_url=f"{DOCS_FILES}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_FILES}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_FILES}/favicon.png",
        )

    @app.exception_handler(FosspError)
    async def fossp_error(request: Request, error: FosspError) -> Response:
        if request.url.path.startswith("/api/"):
            return _api_error(error)
        return pages.error_page(request, error, status_of(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, error)
        return pages.invalid_form(request, error)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, _error: NotSignedIn) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in first (POST /api/v1/session)"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    return app
