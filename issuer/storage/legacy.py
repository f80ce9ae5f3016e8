"""The first version's file-based home (kia-issuer.json), imported once.

`kia issuer db upgrade` reads such a home into the database in one step and
renames the file to kia-issuer.json.imported; nothing writes this format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keys import IssuingKey

from .models import CardRow, IssuingKeyRow, Office

LEGACY_STATE_FILE = "kia-issuer.json"
_FORMAT = 1
_CARD_FIELDS = (
    "serial",
    "region",
    "birth_month",
    "issued_at",
    "expires_at",
    "kid",
    "token",
    "revoked_at",
    "revocation_reason",
    "listed_seq",
    "unlisted_seq",
)


def legacy_rows(path: Path) -> list[Office | IssuingKeyRow | CardRow]:
    """The rows that the legacy state file at ``path`` stands for.

    Raises ValueError if the file is not a first-version home state.
    """
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{path.name} is not a kia issuer home state of format {_FORMAT}")
    root = data["root"]
    rows: list[Office | IssuingKeyRow | CardRow] = [
        Office(
            id=1,
            root_kid=root["kid"],
            root_jwk=root["jwk"],
            root_key_file=root["file"],
            trust_list_seq=data["trust_list_seq"],
        )
    ]
    for item in data["issuing_keys"]:
        key = IssuingKey.from_jwk(item["jwk"])  # validates the key and its times
        rows.append(key_row(key, item["file"]))
    for card in data["cards"]:
        values = {name: card.get(name) for name in _CARD_FIELDS}
        rows.append(CardRow(**values, state="revoked" if values["revoked_at"] is not None else "active"))
    return rows


def key_row(key: IssuingKey, key_file: str) -> IssuingKeyRow:
    jwk = key.to_jwk()
    public = {name: jwk[name] for name in ("kty", "crv", "x", "kid", "alg", "use")}
    return IssuingKeyRow(
        kid=key.kid,
        public_jwk=public,
        state=key.state.value,
        created_at=key.created_at,
        retired_at=key.retired_at,
        revoked_at=key.revoked_at,
        key_file=key_file,
    )
