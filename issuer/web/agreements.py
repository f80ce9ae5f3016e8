"""Renewing and amending cooperation agreements (MoU), and their documents, for partners and institutions.

The agreement section of a partner's or an institution's page is the
include ``_agreements.html``; its forms post here and come back to the page
they were sent from.  Officers renew and amend; the signed PDF is
downloaded by office staff and by the owner's own accounts.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import agreements, partners
from ..agreements import Details, Document, Owner
from ..current import now, office
from ..errors import IssuerError, NotFound
from .auth import CHANGERS, OFFICE_STAFF, local_path, roles
from .auth import actor as signed_in_actor
from .error_page import said
from .formatting import day
from .i18n import t

bp = Blueprint("agreements", __name__, url_prefix="/agreements")
UPLOAD_LIMIT = agreements.MAX_DOCUMENT_BYTES + 64 * 1024  # the PDF and the form's other fields
MEGABYTES = agreements.MAX_DOCUMENT_BYTES // (1024 * 1024)


def allow_document_upload(blueprint: Blueprint, *endpoints: str) -> None:
    """Let ``endpoints`` take a request as large as an agreement's PDF (the app's limit is smaller).

    Set in a URL value preprocessor: those run before every ``before_request``,
    and the CSRF check there reads the form, with the limit it finds.
    """

    @blueprint.url_value_preprocessor
    def _larger_body(endpoint: str | None, _values: dict[str, Any] | None) -> None:
        if endpoint in endpoints:
            request.max_content_length = UPLOAD_LIMIT


allow_document_upload(bp, "agreements.renew", "agreements.amend")


# The words naming each field of the agreements' forms.
FIELD_WORDS = {"number": "mou_number", "contact_name": "mou_contact_name", "contact_phone": "mou_contact_phone",
               "contact_email": "mou_contact_email", "document": "mou_document", "starts_on": "mou_starts_on",
               "ends_on": "mou_ends_on", "note": "mou_note"}


class DetailsForm(FlaskForm):  # type: ignore[misc]
    """An agreement's details as the forms take them; blanks are None (unknown, or unchanged in an amendment)."""

    field_words = FIELD_WORDS

    number = StringField(validators=[Optional(), Length(max=100)])
    contact_name = StringField(validators=[Optional(), Length(max=200)])
    contact_phone = StringField(validators=[Optional(), Length(max=40)])
    contact_email = StringField(validators=[Optional(), Length(max=200)])
    document = FileField()

    def details(self) -> Details:
        upload = self.document.data
        pdf = Document(upload.filename or "", upload.read()) if upload and upload.filename else None
        return Details(self.number.data, self.contact_name.data, self.contact_phone.data, self.contact_email.data,
                       pdf)

    def fields_to_check(self) -> str:
        """The fields whose input was refused, as the page names them."""
        return t("ptn_fields_to_check", fields=", ".join(t(self.field_words.get(name, "field_csrf_token"))
                                                          for name in self.errors))


class RenewForm(DetailsForm):
    back = HiddenField()
    starts_on = DateField(validators=[DataRequired()])
    ends_on = DateField(validators=[Optional()])


class AmendForm(DetailsForm):
    back = HiddenField()
    ends_on = DateField(validators=[Optional()])
    note = StringField(validators=[Optional(), Length(max=agreements.MAX_NOTE)])


def explain(error: IssuerError) -> str:
    """The words for an agreement's refusal, in the page's language where the case is known."""
    if isinstance(error, agreements.DocumentRefused):
        return t("mou_bad_document", mb=MEGABYTES)
    if isinstance(error, agreements.NothingChanged):
        return t("mou_nothing_changed")
    if isinstance(error, agreements.PeriodInvalid):
        return t("mou_end_before_start")
    if isinstance(error, agreements.DetailInvalid):
        return t("ptn_fields_to_check", fields=t(FIELD_WORDS[error.field]))
    if isinstance(error, agreements.RenewalOverlaps):
        return t("mou_overlap", end=day(error.current_end))
    return said(error)


def _back(owner: Owner, back: str | None) -> Response:
    """To the page the form was on, else the owner's page (a partner's) or the dashboard."""
    target = local_path(back)
    if target is None:
        target = (url_for("partners.detail", partner_id=owner.id) if owner.kind == "partner"
                  else url_for("dashboard.index"))
    return redirect(target)


@bp.post("/<any(partner, institution):owner_kind>/<int:owner_id>/renew")
@roles(*CHANGERS)
def renew(owner_kind: agreements.OwnerKind, owner_id: int) -> ResponseReturnValue:
    owner, form = Owner(owner_kind, owner_id), RenewForm()
    if not form.validate_on_submit():
        flash(form.fields_to_check())
        return _back(owner, form.back.data)
    start = form.starts_on.data
    end = form.ends_on.data or partners.default_mou_end(start)
    try:
        agreements.renew(office(current_app), owner, start, end, form.details(), now(), by=signed_in_actor())
    except NotFound:
        abort(404)
    except IssuerError as exc:
        flash(explain(exc))
    else:
        flash(t("mou_renewed_ok", start=day(start), end=day(end)))
    return _back(owner, form.back.data)


@bp.post("/<any(partner, institution):owner_kind>/<int:owner_id>/amend")
@roles(*CHANGERS)
def amend(owner_kind: agreements.OwnerKind, owner_id: int) -> ResponseReturnValue:
    owner, form = Owner(owner_kind, owner_id), AmendForm()
    if not form.validate_on_submit():
        flash(form.fields_to_check())
        return _back(owner, form.back.data)
    try:
        version = agreements.amend(office(current_app), owner, form.details(), now(), ends_on=form.ends_on.data,
                                   note=form.note.data, by=signed_in_actor())
    except NotFound:
        abort(404)
    except IssuerError as exc:
        flash(explain(exc))
    else:
        flash(t("mou_amended_ok", version=version))
    return _back(owner, form.back.data)


def may_read_documents(owner: Owner) -> bool:
    """Office staff, and the owner's own accounts (a partner's manager, a school's or clinic's account)."""
    role: str = current_user.role
    if role in OFFICE_STAFF:
        return True
    mine = current_user.partner_id if owner.kind == "partner" else current_user.institution_id
    return role == ("partner_manager" if owner.kind == "partner" else "institution") and mine == owner.id


@bp.get("/<int:agreement_id>/versions/<int:version>/document")
@roles("admin", "officer", "auditor", "partner_manager", "institution")
def document(agreement_id: int, version: int) -> ResponseReturnValue:
    """The signed PDF as that version of the agreement named it (404 for none; 403 for someone else's)."""
    stored = agreements.document(office(current_app), agreement_id, version)
    if not may_read_documents(stored.owner):
        abort(403)
    return send_file(io.BytesIO(stored.content), mimetype="application/pdf", as_attachment=True,
                     download_name=stored.filename)
