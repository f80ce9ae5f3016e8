"""The OpenAPI 3.1 document of the service, served at /api/v1/openapi.json.

Tests validate it and check that it names exactly the routes the app has.
"""

from __future__ import annotations

from typing import Any

from flask.typing import ResponseReturnValue

from . import bp

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "KIA office service",
        "version": "1",
        "description": "The civil registry office's service for KIA card verification: trust lists for terminals.",
    },
    "paths": {
        "/healthz": {
            "get": {
                "summary": "Whether the service and its database are up",
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Health"}, "up"),
                    "503": _json({"$ref": "#/components/schemas/Health"}, "the database is unreachable"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}
        },
        "/api/v1/trustlist": {
            "get": {
                "summary": "The latest signed trust list, or a delta since a sequence",
                "parameters": [
                    {
                        "name": "since",
                        "in": "query",
                        "required": False,
                        "description": "The sequence the terminal holds: answer a delta from it when one is kept.",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "A compact JWS: typ kia-tl (full) or kia-tl-delta (with X-KIA-Delta-From)",
                        "headers": {
                            "X-KIA-Trust-List-Seq": {"schema": {"type": "integer"}},
                            "X-KIA-Delta-From": {"schema": {"type": "integer"}},
                        },
                        "content": {"application/jose": {"schema": {"type": "string"}}},
                    },
                    "204": {"description": "The terminal already holds the latest list"},
                    "400": _json(_ERROR, "bad query"),
                    "404": _json(_ERROR, "nothing published yet, or no delta kept from that sequence"),
                    "409": _json(_ERROR, "the sequence is newer than the office's"),
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "Health": {
                "type": "object",
                "required": ["status", "database"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "unavailable"]},
                    "database": {"type": "string"},
                    "trust_list_seq": {"type": "integer"},
                },
            },
        }
    },
}


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return DOCUMENT
