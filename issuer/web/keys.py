"""Issuing keys from the web (rotate, retire, revoke) and trust lists signed offline.

The root key never comes here: an officer downloads a signing request, the
root key signs it on the office's offline machine (kia issuer trustlist
sign), and the officer uploads the signed bundle.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from keys.errors import KiaError

from .. import issuing_keys, offline_signing, trust_lists
from ..current import now, office
from ..errors import IssuerError
from .auth import CHANGERS, OFFICE_STAFF, ConfirmForm, actor, roles
from .error_page import said
from .i18n import t

bp = Blueprint("keys", __name__, url_prefix="/keys")
RECENT_REQUESTS = 5
MAX_BUNDLE_UPLOAD = offline_signing.MAX_FILE_LENGTH + 64 * 1024  # the bundle and the form around it


class BundleForm(FlaskForm):  # type: ignore[misc]
    bundle = FileField(validators=[FileRequired()])


@bp.before_request
def _allow_bundles() -> None:
    if request.endpoint == "keys.import_bundle":
        request.max_content_length = MAX_BUNDLE_UPLOAD


@bp.get("/")
@roles(*OFFICE_STAFF)
def index() -> ResponseReturnValue:
    return _page()


def _page(bundle: BundleForm | None = None, status: int = 200) -> ResponseReturnValue:
    home = office(current_app)
    return render_template("keys.html", keys=issuing_keys.list_issuing_keys(home), form=ConfirmForm(),
                           on_tokens=issuing_keys.keys_on_tokens(home), token=_service_token(),
                           seq=trust_lists.latest_published_seq(home), bundle=bundle or BundleForm(),
                           prepared=trust_lists.recent_signing_requests(home, RECENT_REQUESTS)), status


def _service_token() -> str | None:
    """The label of the token the service makes new keys on, for the page; None for key files."""
    try:
        token = issuing_keys.service_token()
    except KiaError:
        return None
    return None if token is None else token.token_label


@bp.post("/rotate")
@roles(*CHANGERS)
def rotate() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        issuing_keys.rotate_issuing_key(office(current_app), issuing_keys.KeyUnlock.from_env(), now(),
                                        by=actor(), token=issuing_keys.service_token())
    except KiaError as exc:
        flash(said(exc))
    else:
        flash(t("key_rotated"))
    return redirect(url_for("keys.index"))


@bp.post("/<kid>/<any(retire, revoke):change>")
@roles(*CHANGERS)
def change(kid: str, change: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        issuing_keys.change_issuing_key(office(current_app), kid, change, now(), by=actor())
    except KiaError as exc:
        flash(said(exc))
    else:
        flash(t("key_changed"))
    return redirect(url_for("keys.index"))


@bp.post("/trustlist/prepare")
@roles(*CHANGERS)
def prepare() -> ResponseReturnValue:
    """The signing request for the offline machine, as a download; its fingerprint is on the keys page."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    signing = trust_lists.prepare_signing(office(current_app), now(), by=actor())
    data = signing.to_bytes()
    name = f"kia-trustlist-request-{signing.seq}.json"
    return Response(data, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@bp.post("/trustlist/import")
@roles(*CHANGERS)
def import_bundle() -> ResponseReturnValue:
    """Publish a bundle signed offline, after checking it against the root key and the office's state."""
    form = BundleForm()
    if not form.validate_on_submit():
        return _page(bundle=form, status=400)
    try:
        imported = trust_lists.import_bundle(office(current_app), form.bundle.data.read(), now(),
                                             by=actor())
    except KiaError as exc:
        form.bundle.errors.append(said(exc))
        return _page(bundle=form, status=exc.http_status if isinstance(exc, IssuerError) else 400)
    flash(t("trust_list_imported").format(seq=imported.trust_list.seq))
    return redirect(url_for("keys.index"))
