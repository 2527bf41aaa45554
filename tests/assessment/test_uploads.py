"""Evidence uploads: photos and PDFs up to 10 MB, recognised by their content; a refusal names the field."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from assessment.conftest import TODAY, YEAR
from greenisle.assessment import attachments, services
from greenisle.assessment.models import Attachment
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def started(producer: Any, records: Any, alice: Any) -> Any:
    records()
    return services.assessment_start(actor=alice, organization_id=producer.pk, year=YEAR, today=TODAY)


def add(actor: Any, assessment: Any, name: str, content: bytes, **kwargs: Any) -> Attachment:
    upload = SimpleUploadedFile(name, content)
    return attachments.attachment_add(actor=actor, assessment_id=assessment.pk, upload=upload, **kwargs)


def test_a_pdf_is_stored_with_its_hash_and_an_audit_event(started: Any, alice: Any) -> None:
    attachment = add(alice, started, "应急预案备案表.pdf", PDF, item_code="emergency", note="备案回执")
    assert (attachment.content_type, attachment.stage, attachment.size) == (
        "application/pdf",
        "self",
        len(PDF),
    )
    with attachment.file.open("rb") as handle:
        assert handle.read() == PDF
    event = Event.objects.get(action="assessment.attachment.added", object_id=str(started.pk))
    assert event.payload["sha256"] == attachment.sha256 and event.payload["item"] == "emergency"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"just text"),
        ("fake.pdf", b"just text named like a PDF"),
        ("photo.pdf", PNG),  # a PNG named .pdf
        ("script.png", b"<script>alert(1)</script>"),
        ("empty.png", b""),
    ],
)
def test_anything_but_a_photo_or_pdf_is_refused_naming_the_file_field(
    started: Any, alice: Any, name: str, content: bytes
) -> None:
    with pytest.raises(ServiceError) as exc:
        add(alice, started, name, content)
    assert exc.value.field == "file"
    assert not Attachment.objects.exists()


def test_over_10_mb_is_refused_and_exactly_10_mb_is_accepted(started: Any, alice: Any) -> None:
    limit = attachments.MAX_UPLOAD_BYTES
    with pytest.raises(ServiceError) as exc:
        add(alice, started, "big.png", PNG + b"\x00" * (limit - len(PNG) + 1))
    assert exc.value.field == "file" and "10 MB" in exc.value.message
    assert add(alice, started, "ok.png", PNG + b"\x00" * (limit - len(PNG))).size == limit


def test_an_unknown_item_names_the_item_field(started: Any, alice: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        add(alice, started, "a.png", PNG, item_code="nonsense")
    assert exc.value.field == "item_code"


def test_who_may_upload_at_each_stage(started: Any, alice: Any, bob: Any, regulator: Any) -> None:
    with pytest.raises(PermissionDenied):
        add(bob, started, "a.png", PNG)
    with pytest.raises(Conflict):  # the bureau adds its own files while reviewing, not before
        add(regulator, started, "a.png", PNG)
    for item in started.items.all():
        services.assessment_self_save(
            actor=alice,
            assessment_id=started.pk,
            scores={item.code: {"score": item.suggested_score if item.suggested_score is not None else 0}},
        )
    services.assessment_submit(actor=alice, assessment_id=started.pk)
    with pytest.raises(Conflict):
        add(alice, started, "late.png", PNG)
    site_photo = add(regulator, started, "现场照片.png", PNG, item_code="storage")
    assert site_photo.stage == "district"


def test_the_file_is_served_to_those_who_see_the_assessment_only(
    started: Any, alice: Any, bob: Any, regulator: Any
) -> None:
    attachment = add(alice, started, "plan.pdf", PDF)
    for user, status in ((alice, 200), (regulator, 200), (bob, 404)):
        client = Client()
        client.force_login(user)
        response = client.get(f"/assessment/attachments/{attachment.pk}/")
        assert response.status_code == status
        if status == 200:
            assert b"".join(response.streaming_content) == PDF
            assert response["Content-Type"] == "application/pdf"


def test_a_refused_upload_on_the_page_says_which_field(started: Any, alice: Any) -> None:
    client = Client()
    client.force_login(alice)
    response = client.post(
        f"/assessment/{started.pk}/upload/",
        {"file": SimpleUploadedFile("x.exe", b"MZ\x90\x00"), "item_code": "training"},
        follow=True,
    )
    assert "[file]" in response.content.decode()
    assert not Attachment.objects.exists()
