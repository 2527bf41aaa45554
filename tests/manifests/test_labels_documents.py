"""Container labels (HJ 1276-2022), loading against them (办法 Art. 13) and the printed documents."""

from __future__ import annotations

import re
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.manifests.choices import LoadingRefusalReason
from greenisle.manifests.documents import labels_pdf, manifest_pdf
from greenisle.manifests.labels import CODE_RE, container_label, container_load, scanned_code
from greenisle.manifests.models import LoadingRefusal, ManifestLine
from greenisle.manifests.selectors import object_timeline


def label(world, *, actor=None, code="900-214-08", weight="30", form="liquid", site=None):
    return container_label(
        actor=actor or world.alice,
        site_id=(site or world.site).pk,
        waste_code=code,
        weight_kg=weight,
        form=form,
        main_constituents="矿物油",
        hazardous_constituents="多环芳烃",
    )


def _text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[n].get_textpage().get_text_range() for n in range(len(doc))]


# --- labels --------------------------------------------------------------------------------------------


def test_label_code_is_uscc_waste_code_date_and_serial(world):
    first = label(world)
    second = label(world, code="900-041-49", weight="8", form="solid")
    today = timezone.localdate().strftime("%Y%m%d")
    assert first.code == f"{world.producer.uscc}90021408{today}0001"
    assert second.code == f"{world.producer.uscc}90004149{today}0002"
    assert CODE_RE.fullmatch(first.code)
    assert first.hazard_characteristics == first.waste_code.hazard_characteristics
    assert first.collector == world.collector  # the producer's collector sees it too
    assert Event.objects.filter(action="manifests.container.labelled", object_id=str(first.pk)).exists()


def test_the_collectors_driver_may_label_for_a_client_but_an_outsider_may_not(world, bob):
    assert label(world, actor=world.driver).producer == world.producer
    with pytest.raises(PermissionDenied):
        label(world, actor=bob)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("waste_code", {"code": "999-999-99"}), ("form", {"form": "plasma"}), ("weight_kg", {"weight": "-1"})],
)
def test_bad_label_input_names_the_field(world, field, kwargs):
    with pytest.raises(ServiceError) as refused:
        label(world, **kwargs)
    assert refused.value.field == field


def test_scanned_qr_url_or_typed_code_give_the_code():
    assert scanned_code("https://greenisle.example/c/91320602abc/") == "91320602ABC"
    assert scanned_code("  91320602ABC ") == "91320602ABC"


# --- loading (Art. 13) ---------------------------------------------------------------------------------


def test_a_matching_label_loads_onto_the_producers_manifest(world, open_request, trip):
    container = label(world)
    result = container_load(
        actor=world.driver,
        request_id=open_request.pk,
        scanned=f"https://x.example/c/{container.code}/",
        weight_kg="30.6",
    )
    assert result.refusal is None
    line = result.line
    assert (line.container, line.container_code, line.waste_code.code, line.weight_kg) == (
        container,
        container.code,
        "900-214-08",
        Decimal("30.60"),
    )
    assert line.manifest.producer == world.producer


def _refused(world, request, scanned, weight):
    result = container_load(actor=world.driver, request_id=request.pk, scanned=scanned, weight_kg=weight)
    assert result.line is None and result.refusal is not None
    return result.refusal


def test_a_weight_beyond_tolerance_stops_that_container_and_is_recorded(world, open_request, trip):
    container = label(world, weight="30")
    refusal = _refused(world, open_request, container.code, "33")  # 10 % over
    assert refusal.reasons == [LoadingRefusalReason.WEIGHT]
    assert "33" in refusal.detail and LoadingRefusal.objects.get().container == container
    assert not ManifestLine.objects.exists()
    assert Event.objects.filter(action="manifests.container.load_refused").count() == 1


def test_another_producers_label_is_refused(world, open_request, trip, bob):
    from factories import SiteFactory

    foreign = label(world, actor=bob, site=SiteFactory(organization=bob.current_membership.organization))
    refusal = _refused(world, open_request, foreign.code, "30")
    assert LoadingRefusalReason.OTHER_PRODUCER in refusal.reasons


def test_an_unknown_label_and_a_container_loaded_twice_are_refused(world, open_request, trip):
    assert _refused(world, open_request, "NOSUCHLABEL", "10").reasons == [LoadingRefusalReason.UNKNOWN_LABEL]
    container = label(world)
    container_load(actor=world.driver, request_id=open_request.pk, scanned=container.code, weight_kg="30")
    again = _refused(world, open_request, container.code, "30")
    assert LoadingRefusalReason.ALREADY_LOADED in again.reasons
    assert ManifestLine.objects.count() == 1


def test_only_the_trips_driver_loads_and_an_outsider_leaves_no_record(
    world, open_request, trip, rival_dispatcher
):
    container = label(world)
    with pytest.raises(PermissionDenied):
        container_load(
            actor=rival_dispatcher, request_id=open_request.pk, scanned=container.code, weight_kg="30"
        )
    assert not LoadingRefusal.objects.exists()


# --- documents -----------------------------------------------------------------------------------------


def test_label_pdf_carries_the_chinese_fields_in_its_text_and_renders_yellow(world):
    container = label(world)
    pdf = labels_pdf([container], base_url="https://greenisle.example/", layout="label")
    assert pdf.startswith(b"%PDF")
    (text,) = _text(pdf)
    flat = re.sub(r"\s+", "", text)
    for value in [
        "危险废物",
        container.waste_name[:12],
        "HW08",
        "900-214-08",
        "液态",
        "矿物油",
        "多环芳烃",
        world.producer.name,
        container.code,
    ]:
        assert value in flat, value
    page = pdfium.PdfDocument(pdf)[0]
    assert round(page.get_width() / 72 * 25.4) == 100  # 100 mm square for a label printer
    image = page.render(scale=2).to_pil().convert("RGB")
    # The yellow background dominates; the QR code and the text are black.
    colours = image.getcolors(maxcolors=1 << 20)
    yellow = sum(n for n, (r, g, b) in colours if r > 240 and 190 < g < 220 and b < 30)
    dark = sum(n for n, (r, g, b) in colours if r < 60 and g < 60 and b < 60)
    total = image.width * image.height
    assert yellow > total * 0.5 and dark > total * 0.03


def test_a4_sheet_holds_four_labels_a_page(world):
    containers = [label(world, weight=str(10 + n)) for n in range(5)]
    pdf = labels_pdf(containers, base_url="https://greenisle.example/", layout="a4")
    pages = _text(pdf)
    assert len(pages) == 2
    assert sum(page.count("危险废物") for page in pages) == 5


def test_manifest_pdf_has_parties_lines_signatures_and_timeline_in_chinese(world, delivered_manifest):
    from greenisle.manifests.receipt import manifest_receive

    lines = {line.pk: line.weight_kg for line in delivered_manifest.lines.all()}
    manifest = manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    timeline = list(object_timeline(world.receiver, object_type="manifests.manifest", object_id=manifest.pk))
    pdf = manifest_pdf(manifest, timeline=timeline)
    flat = re.sub(r"\s+", "", "".join(_text(pdf)))
    for value in [
        "危险废物转移联单",
        manifest.number,
        world.producer.name,
        world.collector.name,
        "RQ-0001",
        "900-214-08",
        "移出人签字",
        "接受人确认接收",
        "接受",
        "manifests.manifest.received",
    ]:
        assert value in flat, value
    page = pdfium.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("L")
    assert (
        sum(1 for p in page.get_flattened_data() if p < 100) > 2000
    )  # not a blank page: text and rules drawn
