"""Manifest pages: the manifest with what the person may do next (from the same transition table
the services and the API enforce), receipt per line, treatment, cancelling, corrections and
superseded versions, and the paper fallback."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.accounts.choices import Role
from greenisle.dispatch.models import Vehicle
from greenisle.manifests.choices import CorrectionStatus, ManifestStatus
from greenisle.manifests.corrections import correction_decide, correction_open, correction_roles
from greenisle.manifests.models import ManifestCorrection, ManifestVersion
from greenisle.manifests.onward import manifest_onward_create, stock_lines
from greenisle.manifests.paper import manifest_paper_enter
from greenisle.manifests.receipt import TREATMENT_METHODS, manifest_receive, manifest_record_treatment
from greenisle.manifests.selectors import manifest_get_visible_to, object_timeline
from greenisle.manifests.services import manifest_actions, manifest_cancel, manifest_deliver, party_roles
from greenisle.manifests.transitions import CORRECTABLE
from greenisle.manifests.validation import manifest_check
from greenisle.notifications.models import Notification
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization, Site
from greenisle.web.forms import ReceiveForm
from greenisle.web.views import _kind, _service_call, role_required


def _visible(request: HttpRequest, manifest_id: Any) -> Any:
    manifest = manifest_get_visible_to(request.user, manifest_id)
    if manifest is None:
        raise Http404
    return manifest


@login_required
def manifest_detail(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    manifest = _visible(request, manifest_id)
    membership = request.user.current_membership  # type: ignore[union-attr]
    actions = manifest_actions(manifest, membership) if membership else set()
    roles = party_roles(manifest, membership) if membership else set()
    kind, _role = _kind(request)
    corrections = list(
        manifest.corrections.select_related("requested_by_organization").order_by("-created_at")
    )
    open_correction = next((c for c in corrections if c.status == CorrectionStatus.OPEN), None)
    theirs = correction_roles(open_correction, membership) if open_correction and membership else set()
    return render(
        request,
        "web/manifest_detail.html",
        {
            "manifest": manifest,
            "can_sign": ManifestStatus.PRODUCER_SIGNED in actions,
            "can_depart": ManifestStatus.IN_TRANSIT in actions,
            "can_deliver": ManifestStatus.DELIVERED in actions,
            "can_receive": ManifestStatus.RECEIVED in actions,
            "can_treat": ManifestStatus.TREATED in actions,
            "can_cancel": ManifestStatus.CANCELLED in actions,
            "can_correct": bool(roles) and manifest.status in CORRECTABLE and open_correction is None,
            "open_correction": open_correction,
            "may_decide": "counterparty" in theirs,
            "may_withdraw": "requester" in theirs,
            "corrections": corrections,
            "versions": list(ManifestVersion.objects.filter(manifest=manifest).order_by("version")),
            "treatment_methods": sorted(TREATMENT_METHODS.items()),
            "report": manifest_check(manifest) if manifest.status == ManifestStatus.DRAFT else None,
            "signed_warnings": _signed_warnings(request, manifest),
            "timeline": object_timeline(
                request.user, object_type="manifests.manifest", object_id=manifest.pk
            ),
        },
    )


def _signed_warnings(request: HttpRequest, manifest: Any) -> list[dict[str, str]]:
    """The checks' warnings recorded with the producer's signature."""
    event = (
        object_timeline(request.user, object_type="manifests.manifest", object_id=manifest.pk)
        .filter(action="manifests.manifest.signed")
        .first()
    )
    return list(event.payload.get("warnings", [])) if event else []


@require_POST
@login_required
def deliver(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    _service_call(
        request,
        lambda: manifest_deliver(actor=request.user, manifest_id=manifest_id),
        _("Delivery recorded: receipt is due within 5 working days."),
    )
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("web:manifest", manifest_id=manifest_id)


@login_required
def receive(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    """The receiving organisation's page (the collector's warehouse, or a facility for onward
    manifests)."""
    manifest = _visible(request, manifest_id)
    if "receiver" not in party_roles(manifest, request.user.current_membership):  # type: ignore[union-attr]
        raise Http404
    lines = list(manifest.lines.select_related("waste_code").order_by("id"))
    form = ReceiveForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        ok = _service_call(
            request,
            lambda: manifest_receive(actor=request.user, manifest_id=manifest.pk, lines=form.receipts()),
            _("Receipt confirmed; the ledger has its storage-in records."),
        )
        if ok:
            return redirect("web:manifest", manifest_id=manifest.pk)
    membership = request.user.current_membership  # type: ignore[union-attr]
    return render(
        request,
        "web/receive.html",
        {
            "manifest": manifest,
            "form": form,
            "rows": form.rows(lines),
            "can_deliver": ManifestStatus.DELIVERED in manifest_actions(manifest, membership),
        },
    )


@require_POST
@login_required
def treatment(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    _service_call(
        request,
        lambda: manifest_record_treatment(
            actor=request.user,
            manifest_id=manifest_id,
            method=request.POST.get("method", ""),
            note=request.POST.get("note", ""),
        ),
        _("Treatment recorded."),
    )
    return redirect("web:manifest", manifest_id=manifest_id)


@require_POST
@login_required
def cancel(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    _service_call(
        request,
        lambda: manifest_cancel(
            actor=request.user, manifest_id=manifest_id, reason=request.POST.get("reason", "")
        ),
        _("Manifest cancelled."),
    )
    return redirect("web:manifest", manifest_id=manifest_id)


@require_POST
@login_required
def correction_new(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    manifest = _visible(request, manifest_id)
    changes: dict[str, dict[str, str]] = {}
    for line in manifest.lines.select_related("waste_code"):
        row = {}
        weight = request.POST.get(f"line_{line.pk}_weight", "").strip()
        code = request.POST.get(f"line_{line.pk}_waste_code", "").strip()
        if weight and weight != str(line.weight_kg):
            row["weight_kg"] = weight
        if code and code != line.waste_code.code:
            row["waste_code"] = code
        if row:
            changes[str(line.pk)] = row
    _service_call(
        request,
        lambda: correction_open(
            actor=request.user,
            manifest_id=manifest.pk,
            reason=request.POST.get("reason", ""),
            changes={"lines": changes},
        ),
        _("Correction proposed; the other party is asked to confirm it."),
    )
    return redirect("web:manifest", manifest_id=manifest.pk)


@require_POST
@login_required
def correction_decision(request: HttpRequest, correction_id: Any) -> HttpResponse:
    correction = ManifestCorrection.objects.filter(pk=correction_id).first()
    if correction is None or manifest_get_visible_to(request.user, correction.manifest_id) is None:
        raise Http404
    target = request.POST.get("target", "")
    _service_call(
        request,
        lambda: correction_decide(
            actor=request.user, correction_id=correction.pk, target=target, note=request.POST.get("note", "")
        ),
        _("Correction updated."),
    )
    return redirect("web:manifest", manifest_id=correction.manifest_id)


@login_required
def version(request: HttpRequest, manifest_id: Any, version: int) -> HttpResponse:
    manifest = _visible(request, manifest_id)
    found = ManifestVersion.objects.filter(manifest=manifest, version=version).first()
    if found is None:
        raise Http404
    return render(request, "web/manifest_version.html", {"manifest": manifest, "old": found})


@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.RECEIVER})
def paper(request: HttpRequest) -> HttpResponse:
    """办法 Art. 20: enter a transfer made on paper while the system was unavailable."""
    membership = request.user.current_membership  # type: ignore[union-attr]
    sites = (
        Site.objects.filter(organization__service_contracts__collector=membership.organization)
        .select_related("organization")
        .distinct()
        .order_by("organization__name", "name")
    )
    if request.method == "POST":
        post = request.POST
        lines = []
        for n in range(10):
            code = post.get(f"container_{n}", "").strip()
            if not code:
                continue
            lines.append(
                {
                    "container_code": code,
                    "waste_code": post.get(f"waste_code_{n}", ""),
                    "weight_kg": post.get(f"weight_{n}", ""),
                    "received_weight_kg": post.get(f"received_{n}", "") or post.get(f"weight_{n}", ""),
                }
            )
        created: list[Any] = []
        ok = _service_call(
            request,
            lambda: created.append(
                manifest_paper_enter(
                    actor=request.user,
                    producer_site_id=post.get("producer_site_id") or None,
                    paper_reference=post.get("paper_reference", ""),
                    times={
                        k: post.get(k, "")
                        for k in ("producer_signed_at", "departed_at", "delivered_at", "received_at")
                    },
                    lines=lines,
                )
            ),
            _("Paper manifest entered."),
        )
        if ok:
            return redirect("web:manifest", manifest_id=created[0].pk)
        messages.info(request, _("Nothing was saved; correct the field named above."))
    return render(
        request, "web/manifest_paper.html", {"sites": sites, "rows": range(5), "post": request.POST}
    )


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """What the organisation was told (discrepancies on its waste, receipts due, corrections to
    decide); opening the page marks them read."""
    membership = request.user.current_membership  # type: ignore[union-attr]
    if membership is None:
        raise Http404
    rows = list(Notification.objects.filter(organization_id=membership.organization_id)[:100])
    Notification.objects.filter(organization_id=membership.organization_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return render(request, "web/notifications.html", {"rows": rows})


@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.RECEIVER})
def onward(request: HttpRequest) -> HttpResponse:
    """办法 Art. 31: ship containers from the warehouse to a licensed facility on an onward manifest."""
    membership = request.user.current_membership  # type: ignore[union-attr]
    collector = membership.organization
    if request.method == "POST":
        made: list[Any] = []
        ok = _service_call(
            request,
            lambda: made.append(
                manifest_onward_create(
                    actor=request.user,
                    receiver_id=request.POST.get("receiver_id") or None,
                    line_ids=request.POST.getlist("line_ids"),
                    vehicle_id=request.POST.get("vehicle_id") or None,
                )
            ),
            _("Onward manifest drafted: sign it, then load and hand over."),
        )
        if ok:
            return redirect("web:manifest", manifest_id=made[0].pk)
    facilities = Organization.objects.filter(kind=OrganizationKind.FACILITY).order_by("name")
    vehicles = Vehicle.objects.filter(collector=collector, active=True).order_by("plate")
    return render(
        request,
        "web/onward.html",
        {"stock": stock_lines(collector)[:500], "facilities": facilities, "vehicles": vehicles},
    )
