"""Error bodies exactly as SPEC §5: 400 `{"error": …}` naming the field, 401
`{"message": "Invalid access token"}`, 404 and 413 `{"error": …}`.

FastAPI answers a bad body with 422 and its own shape; here every validation failure
becomes a 400 whose message names the first offending field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ErrorBody",
    "MessageBody",
    "bad_request",
    "install_error_handlers",
    "not_found",
    "unauthorised",
]

INVALID_TOKEN = "Invalid access token"


class ErrorBody(BaseModel):
    error: str


class MessageBody(BaseModel):
    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad request: the message names the field"},
    401: {"model": MessageBody, "description": "Missing or wrong `x-api-key`"},
    404: {"model": ErrorBody, "description": "No such object"},
    413: {"model": ErrorBody, "description": "Request body over the route's limit"},
}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, str]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def not_found(message: str) -> ApiError:
    return ApiError(404, {"error": message})


def unavailable(message: str) -> ApiError:
    return ApiError(503, {"error": message})


def unauthorised() -> ApiError:
    return ApiError(401, {"message": INVALID_TOKEN})


def _field(loc: Sequence[int | str]) -> tuple[str, str]:
    """(where, dotted field name) from a pydantic error location."""
    where = str(loc[0]) if loc else "body"
    path = ".".join(str(p) for p in loc[1:])
    return where, path


def describe_validation_error(errors: Sequence[Any]) -> str:
    """One sentence naming the first offending field and what was expected."""
    if not errors:
        return "invalid request"
    error = errors[0]
    kind = str(error.get("type", ""))
    where, path = _field(tuple(error.get("loc", ())))
    message = str(error.get("msg", "invalid value"))
    if kind == "json_invalid":
        return "request body is not valid JSON"
    if where == "body" and not path:
        if kind == "missing":
            return "request body is required (a JSON object)"
        return "request body must be a JSON object"
    if where == "query":
        return f"invalid query parameter `{path}`: {message}"
    if where == "path":
        return f"invalid path parameter `{path}`: {message}"
    if kind == "missing":
        return f"`{path}` is required"
    if kind == "extra_forbidden":
        return f"`{path}` is not a known field"
    return f"invalid `{path}`: {message}"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body, status_code=exc.status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"error": describe_validation_error(exc.errors())}, status_code=400)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 401:
        return JSONResponse({"message": INVALID_TOKEN}, status_code=401)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
