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


def _jose(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/jose": {"schema": {"type": "string"}}}}


_RANGE = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
]
_REPORT_FILTERS = [
    {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["partner", "kind", "cluster", "programme"]}},
    {"name": "period", "in": "query", "schema": {"type": "string", "enum": ["day", "month"]}},
    *_RANGE,
    {"name": "partner", "in": "query", "schema": {"type": "integer", "minimum": 1}},
]

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "KIA office service",
        "version": "1",
        "description": "The civil registry office's service for KIA card verification: trust lists, terminal "
        "enrolment and redemption sync (docs/sync-protocol.md).",
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
                    },
                    {
                        "name": "form",
                        "in": "query",
                        "required": False,
                        "description": "2: the list or delta in its second form (typ kia-tl2, kia-tl2-delta) where "
                                       "it was signed so, else form 1; 1 (the default): form 1.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2, "default": 1},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "A compact JWS: typ kia-tl (full) or kia-tl-delta (with X-KIA-Delta-From), "
                                       "or with form=2 kia-tl2 or kia-tl2-delta (RFC 7797 unencoded payload)",
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
        "/api/v1/terminals/enroll": {
            "post": {
                "summary": "Enrol a terminal with its one-time code and public key",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EnrolRequest"}}},
                },
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Enrolment"}, "enrolled"),
                    "400": _json(_ERROR, "malformed request"),
                    "403": _json(_ERROR, "unknown, used or expired code"),
                    "503": _json(_ERROR, "the office cannot sign configuration now"),
                },
            }
        },
        "/api/v1/terminals/root": {
            "get": {
                "summary": "The office's root public key, to check by its fingerprint before enrolling",
                "responses": {
                    "200": _json({"type": "object", "required": ["root_jwk"],
                                  "properties": {"root_jwk": {"type": "object"}}}, "the root public JWK"),
                },
            }
        },
        "/api/v1/federation/visits": {
            "get": {
                "summary": "A month's figures of another region's cards at this office's partners (typ kia-visits)",
                "parameters": [
                    {"name": "home", "in": "query", "required": True,
                     "description": "The cards' home region, a four-digit regency/city code.",
                     "schema": {"type": "integer", "minimum": 1101, "maximum": 9799}},
                    {"name": "month", "in": "query", "required": True, "description": "The local month, YYYY-MM.",
                     "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}},
                ],
                "responses": {
                    "200": _jose("compact JWS, typ kia-visits, signed by an active issuing key"),
                    "400": _json(_ERROR, "a home or month that is not one"),
                    "409": _json(_ERROR, "the office holds no national directory listing it, or home is its own"),
                    "503": _json(_ERROR, "the office cannot sign figures now"),
                },
            }
        },
        "/api/v1/terminals/config": {
            "get": {
                "summary": "The terminal's signed configuration (typ kia-config)",
                "security": [{"syncToken": []}],
                "responses": {
                    "200": _jose("compact JWS, typ kia-config, signed by an active issuing key"),
                    "401": _json(_ERROR, "missing, invalid, expired or replayed sync token"),
                    "503": _json(_ERROR, "the office cannot sign configuration now"),
                },
            }
        },
        "/api/v1/sync": {
            "post": {
                "summary": "Send redemption records with a checkpoint",
                "security": [{"syncToken": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SyncRequest"}}},
                },
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/Ack"}, "stored (or already held)"),
                    "400": _json(_ERROR, "malformed body or record"),
                    "401": _json(_ERROR, "missing, invalid, expired or replayed sync token"),
                    "403": _json(_ERROR, "terminal suspended"),
                    "409": _json({"$ref": "#/components/schemas/Refusal"}, "gap or fork"),
                    "413": _json(_ERROR, "body too large"),
                    "422": _json({"$ref": "#/components/schemas/Refusal"}, "records do not match the checkpoint"),
                },
            }
        },
        "/api/v1/audit/export": {
            "get": {
                "summary": "The audit export of a period (kia-audit-export/1, docs/audit.md) as a zip",
                "security": [{"basic": []}],
                "parameters": [
                    {"name": "from", "in": "query", "required": True, "schema": {"type": "string", "format": "date"},
                     "description": "first partner-local day"},
                    {"name": "to", "in": "query", "required": True, "schema": {"type": "string", "format": "date"},
                     "description": "last partner-local day, inclusive (at most 366 days)"},
                    {"name": "partner", "in": "query", "schema": {"type": "integer", "minimum": 1},
                     "description": "one partner (a partner manager: always their own)"},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["csv", "parquet", "both"]}},
                ],
                "responses": {
                    "200": {"description": "manifest.json, the tables and figures.json",
                            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": _json(_ERROR, "bad query or period"),
                    "401": _json(_ERROR, "no or wrong username and password (WWW-Authenticate: Basic)"),
                    "403": _json(_ERROR, "not an auditor, admin or partner manager; another partner's records"),
                    "404": _json(_ERROR, "no such partner"),
                },
            }
        },
        "/api/v1/log/checkpoint": {
            "get": {
                "summary": "The transparency log's latest checkpoint with its cosignatures (C2SP tlog-checkpoint)",
                "responses": {
                    "200": {"description": "a C2SP signed note",
                            "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "404": _json(_ERROR, "no checkpoint signed yet"),
                },
            }
        },
        "/api/v1/log/key": {
            "get": {
                "summary": "The log's origin, checkpoint verifier key and witnesses (check them against the "
                           "office's announcement)",
                "responses": {"200": _json({"type": "object"}, "origin, verifier_key, witnesses"),
                              "404": _json(_ERROR, "the log has no key yet")},
            }
        },
        "/api/v1/log/tile/{rest}": {
            "get": {
                "summary": "A C2SP tlog-tiles tile (tile/<L>/<N>[.p/<W>]) or entry bundle (tile/entries/<N>[.p/<W>])",
                "parameters": [{"name": "rest", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "the tile's path after tile/, slashes included"}],
                "responses": {
                    "200": {"description": "hashes, or length-prefixed entries (docs/transparency-log.md)",
                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                               "format": "binary"}}}},
                    "404": _json(_ERROR, "a tile the tree does not hold, or not a tile path"),
                },
            }
        },
        "/api/v1/log/proof/inclusion": {
            "get": {
                "summary": "RFC 6962 inclusion proof of entry index in the tree of size",
                "parameters": [{"name": name, "in": "query", "required": True,
                                "schema": {"type": "integer", "minimum": 0}} for name in ("index", "size")],
                "responses": {"200": _json({"type": "object"}, "index, size, proof (base64 hashes)"),
                              "400": _json(_ERROR, "bad query, or the index is not in the tree"),
                              "404": _json(_ERROR, "the log is smaller than size")},
            }
        },
        "/api/v1/log/proof/consistency": {
            "get": {
                "summary": "RFC 6962 consistency proof from the tree of old to the tree of size",
                "parameters": [{"name": name, "in": "query", "required": True,
                                "schema": {"type": "integer", "minimum": 0}} for name in ("old", "size")],
                "responses": {"200": _json({"type": "object"}, "old, size, proof (base64 hashes)"),
                              "400": _json(_ERROR, "bad query, or old is larger than size"),
                              "404": _json(_ERROR, "the log is smaller than size")},
            }
        },
        "/api/v1/log/entry": {
            "get": {
                "summary": "The entry of a fact: kind and ref (terminal#seq, a serial, a kid...)",
                "parameters": [{"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
                               for name in ("kind", "ref")],
                "responses": {"200": _json({"type": "object"}, "index, entry (base64)"),
                              "400": _json(_ERROR, "bad query"),
                              "404": _json(_ERROR, "no such entry")},
            }
        },
        **{
            f"/api/v1/reports/{name}": {
                "get": {
                    "summary": summary,
                    "security": [{"session": []}],
                    "parameters": [
                        *(_REPORT_FILTERS if name == "figures" else _RANGE if name == "partners" else []),
                        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
                    ],
                    "responses": {
                        "200": {
                            "description": "rows as JSON ({rows: [...]}) or CSV with a header row",
                            "content": {"application/json": {"schema": {"type": "object"}},
                                        "text/csv": {"schema": {"type": "string"}}},
                        },
                        "400": _json(_ERROR, "bad query"),
                        "401": _json(_ERROR, "not signed in"),
                        "403": _json(_ERROR, "a partner manager asking for other partners' data"),
                    },
                }
            }
            for name, summary in (
                ("figures", "Scans, accepted, unique cards, gross, discount, net and held records per partner, "
                            "kind, cluster"),
                ("partners", "Partners in force and partners with scans, month by month"),
                ("coverage", "Active cards per region against eligible children"),
            )
        },
    },
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "session",
                        "description": "a signed-in session of the office's pages"},
            "syncToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (typ kia-sync+jwt)"},
            "basic": {"type": "http", "scheme": "basic",
                      "description": "the username and password of a person of the office"}
        },
        "schemas": {
            "EnrolRequest": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "public_jwk"],
                "properties": {
                    "code": {"type": "string", "minLength": 4, "maxLength": 32},
                    "public_jwk": {"type": "object", "description": "Ed25519 public JWK"},
                },
            },
            "Enrolment": {
                "type": "object",
                "required": ["terminal_id", "audience", "root_jwk", "config"],
                "properties": {
                    "terminal_id": {"type": "string"},
                    "audience": {"type": "string"},
                    "root_jwk": {"type": "object"},
                    "config": {"type": "string", "description": "compact JWS, typ kia-config"},
                },
            },
            "SyncRequest": {
                "type": "object",
                "additionalProperties": False,
                "required": ["records", "checkpoint"],
                "properties": {
                    "records": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object"}},
                    "checkpoint": {"type": "string", "description": "compact JWS, typ kia-ckpt"},
                },
            },
            "Ack": {
                "type": "object",
                "required": ["acknowledged", "stored", "duplicates"],
                "properties": {
                    "acknowledged": {"type": "integer"},
                    "stored": {"type": "integer"},
                    "duplicates": {"type": "integer"},
                },
            },
            "Refusal": {
                "type": "object",
                "required": ["error", "message", "acknowledged"],
                "properties": {
                    "error": {"type": "string", "enum": ["gap", "fork", "chain_mismatch", "bad_batch"]},
                    "message": {"type": "string"},
                    "acknowledged": {"type": "integer"},
                },
            },
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
                    "sync_journal": {
                        "type": "object",
                        "description": "With KIA_SYNC_INTAKE=journal: batches acknowledged, not yet folded",
                        "properties": {"batches": {"type": "integer"}, "records": {"type": "integer"},
                                       "oldest_waiting_seconds": {"type": ["integer", "null"]}},
                    },
                },
            },
        }
    },
}


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return DOCUMENT
