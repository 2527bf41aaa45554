"""Labels and loading: a producer (or its collector's driver) labels containers and prints the
labels; the QR code opens the container's page; the driver scans and weighs at loading; the manifest
prints as PDF."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.accounts.choices import Role
from greenisle.core.errors import ServiceError
from greenisle.manifests.choices import WasteForm
from greenisle.manifests.documents import labels_pdf, manifest_pdf
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.models import Container
from greenisle.manifests.selectors import manifest_get_visible_to, object_timeline
from greenisle.organizations.models import Site
from greenisle.web.views import _kind, _service_call, role_required


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _container(request: HttpRequest, code: str) -> Container:
    container = (
        Container.objects.visible_to(request.user)
        .select_related("producer", "site", "waste_code__category", "request")
        .filter(code=code.upper())
        .first()
    )
    if container is None:
        raise Http404
    return container


@role_required("producer")
def labels(request: HttpRequest) -> HttpResponse:
    """The producer's containers and a form to label a new one."""
    membership = request.user.current_membership  # type: ignore[union-attr]
    sites = Site.objects.filter(organization_id=membership.organization_id).order_by("name")
    if request.method == "POST":
        post = request.POST
        made: list[Container] = []
        ok = _service_call(
            request,
            lambda: made.append(
                container_label(
                    actor=request.user,
                    site_id=post.get("site_id") or None,
                    waste_code=post.get("waste_code", ""),
                    weight_kg=post.get("weight_kg", ""),
                    form=post.get("form", ""),
                    main_constituents=post.get("main_constituents", ""),
                    hazardous_constituents=post.get("hazardous_constituents", ""),
                    precautions=post.get("precautions", ""),
                )
            ),
            _("Label made; print it and stick it on the container."),
        )
        if ok:
            return redirect("web:container", code=made[0].code)
    containers = Container.objects.visible_to(request.user).select_related("waste_code", "site")[:50]
    return render(
        request,
        "web/labels.html",
        {"sites": sites, "forms": WasteForm.choices, "containers": containers, "post": request.POST},
    )


@login_required
def container_page(request: HttpRequest, code: str) -> HttpResponse:
    """Where a label's QR code leads: the container, its manifest lines and its audit trail."""
    container = _container(request, code)
    return render(
        request,
        "web/container.html",
        {
            "container": container,
            "lines": container.lines.select_related("manifest").order_by("created_at"),
            "refusals": container.loading_refusals.order_by("-created_at"),
            "timeline": object_timeline(
                request.user, object_type="manifests.container", object_id=container.pk
            ),
        },
    )


@login_required
def label_pdf(request: HttpRequest, code: str) -> HttpResponse:
    container = _container(request, code)
    layout = request.GET.get("layout", "label")
    try:
        content = labels_pdf([container], base_url=request.build_absolute_uri("/"), layout=layout)
    except ServiceError as exc:
        raise Http404(exc.message) from exc
    return _pdf(content, f"label-{container.code}.pdf")


@login_required
def labels_sheet(request: HttpRequest) -> HttpResponse:
    """All the producer's labels not yet loaded, four to an A4 sheet."""
    kind, _role = _kind(request)
    if kind != "producer":
        raise Http404
    containers = list(
        Container.objects.visible_to(request.user)
        .filter(lines__isnull=True)
        .select_related("producer", "waste_code__category")
        .order_by("created_at")
    )
    if not containers:
        messages.info(request, _("No labels waiting to be printed."))
        return redirect("web:labels")
    return _pdf(labels_pdf(containers, base_url=request.build_absolute_uri("/"), layout="a4"), "labels.pdf")


@require_POST
@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.DRIVER})
def load(request: HttpRequest, request_id: Any) -> HttpResponse:
    """办法 Art. 13: the scanned (or typed) label and the weighed container; a mismatch is refused."""
    try:
        result = container_load(
            actor=request.user,
            request_id=request_id,
            scanned=request.POST.get("scanned", ""),
            weight_kg=request.POST.get("weight_kg", ""),
        )
    except ServiceError as exc:
        field = f" [{exc.field}]" if exc.field else ""
        messages.error(request, f"{exc.message}{field}")
        return redirect("web:driver")
    if result.refusal is not None:
        messages.error(request, _("Not loaded: %(detail)s") % {"detail": result.refusal.detail})
    else:
        assert result.line is not None
        messages.success(request, _("Loaded: %(code)s") % {"code": result.line.container_code})
    return redirect("web:driver")


@login_required
def manifest_document(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    manifest = manifest_get_visible_to(request.user, manifest_id)
    if manifest is None:
        raise Http404
    timeline = list(object_timeline(request.user, object_type="manifests.manifest", object_id=manifest.pk))
    return _pdf(manifest_pdf(manifest, timeline=timeline), f"manifest-{manifest.number}.pdf")
