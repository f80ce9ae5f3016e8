"""A refusal a page shows is said in the page's language when its class has words (issuer.web.error_page.said)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from flask import Flask

import issuer
import keys
from issuer.errors import CardAlreadyRevoked, DatabaseConflict, HomeBusy, Refused
from issuer.people import LastAdmin
from issuer.web.error_page import said
from issuer.web.i18n import TEXT
from keys.errors import PassphraseWrong


def every_error_class() -> set[str]:
    for package in (keys, issuer):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations" not in module.name and ".web" not in module.name:
                importlib.import_module(module.name)
    found, waiting = set(), [Exception]
    while waiting:
        for kind in waiting.pop().__subclasses__():
            found.add(kind.__name__)
            waiting.append(kind)
    return found


def test_every_class_given_words_is_an_error_the_code_has() -> None:
    named = {key.removeprefix("exc_") for key in TEXT if key.startswith("exc_")}
    assert named - every_error_class() == set()


@pytest.mark.parametrize(("error", "indonesian", "english"), [
    (CardAlreadyRevoked("card X is already revoked"), "Kartu ini sudah dicabut.", "This card is already revoked."),
    (LastAdmin("this is the last active admin"), "Ini admin aktif terakhir", "This is the last active admin"),
    (PassphraseWrong("bad passphrase for /srv/kia/keys/a.key"), "tidak membuka kunci penerbit",
     "does not open the issuing key"),
    (HomeBusy("another command"), "sedang mengerjakan perintah lain", "busy with another command"),
    (DatabaseConflict("undone"), "Tidak ada yang tersimpan; coba lagi", "Nothing was kept; try again"),
])
def test_a_known_refusal_is_said_in_the_pages_language(error: Exception, indonesian: str, english: str) -> None:
    app = Flask(__name__)
    with app.test_request_context("/"):
        assert indonesian in said(error)
    with app.test_request_context("/?lang=en"):
        assert english in said(error)
    with app.test_request_context("/"):
        assert "/srv/kia" not in said(error), "a path or other detail of the message stays out of the page"


def test_a_refusal_without_words_keeps_its_own_message() -> None:
    with Flask(__name__).test_request_context("/"):
        assert said(Refused("the batch is already printed")) == "the batch is already printed"
