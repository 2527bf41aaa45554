"""Evidence files on an assessment: who may add one at each stage, what is accepted (photos and PDFs
up to 10 MB, recognised by their first bytes, not their name), stored with their SHA-256 and the
audit event in one transaction.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.db import transaction

from greenisle.accounts.permissions import membership_of
from greenisle.assessment import checklists
from greenisle.assessment.access import (
    assessment_locked,
    note_text,
    regulator_role,
    require_city,
    require_district,
    self_role,
)
from greenisle.assessment.choices import EDITABLE, AssessmentStatus, Stage
from greenisle.assessment.models import Assessment, Attachment
from greenisle.audit.services import event_record
from greenisle.core.errors import Conflict, ServiceError

# Evidence files: photos and PDFs up to 10 MB, recognised by their first bytes, not their name.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FILE_TYPES: dict[str, tuple[tuple[bytes, ...], tuple[str, ...]]] = {
    "application/pdf": ((b"%PDF-",), (".pdf",)),
    "image/jpeg": ((b"\xff\xd8\xff",), (".jpg", ".jpeg")),
    "image/png": ((b"\x89PNG\r\n\x1a\n",), (".png",)),
    "image/webp": ((b"RIFF",), (".webp",)),
}


def _upload_stage(membership: Any, assessment: Assessment) -> str:
    """Who may add a file now: the enterprise (or its collector) while self-assessing, the district
    bureau while reviewing, the city bureau while spot-checking."""
    if membership.organization.kind == "regulator":
        if assessment.status == AssessmentStatus.SELF_SUBMITTED:
            require_district(membership, assessment)
            return Stage.DISTRICT
        if assessment.status == AssessmentStatus.DISTRICT_REVIEWED:
            require_city(membership, assessment)
            return Stage.CITY
        regulator_role(membership, assessment)
    else:
        self_role(membership, assessment.organization_id)
        if assessment.status in EDITABLE:
            return Stage.SELF
    raise Conflict(
        f"评估当前状态为 {assessment.status}，不能上传 / no uploads while the assessment is {assessment.status}",
        field="status",
        code="not_editable",
    )


def _check_upload(upload: Any) -> tuple[str, bytes]:
    """The file's type from its first bytes (and a matching name), within the size limit; else 400
    naming ``file``."""
    if upload is None:
        raise ServiceError("请选择文件 / file is required", field="file")
    size = int(getattr(upload, "size", 0) or 0)
    if size <= 0:
        raise ServiceError("文件为空 / file: the file is empty", field="file")
    if size > MAX_UPLOAD_BYTES:
        raise ServiceError(
            f"文件 {size / 1048576:.1f} MB，超过10 MB上限 / file: {size / 1048576:.1f} MB is over the 10 MB limit",
            field="file",
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    suffix = Path(str(getattr(upload, "name", "") or "")).suffix.lower()
    for content_type, (magics, suffixes) in FILE_TYPES.items():
        if any(head.startswith(m) for m in magics) and (
            content_type != "image/webp" or head[8:12] == b"WEBP"
        ):
            if suffix not in suffixes:
                break
            return content_type, head
    raise ServiceError(
        "只接受照片（JPG、PNG、WebP）或PDF文件 / file: only photos (JPG, PNG, WebP) or PDF documents",
        field="file",
        code="file_type",
    )


@transaction.atomic
def attachment_add(
    *, actor: Any, assessment_id: Any, upload: Any, item_code: str = "", note: str = ""
) -> Attachment:
    """Add a photo or PDF as evidence for an item (or the whole assessment)."""
    assessment = assessment_locked(assessment_id)
    membership = membership_of(actor)
    stage = _upload_stage(membership, assessment)
    item_code = str(item_code or "").strip()
    if item_code and item_code not in {i.code for i in checklists.checklist(assessment.kind)}:
        raise ServiceError(f"没有评估项 {item_code} / no item {item_code}", field="item_code")
    note = note_text(note, "note", limit=300, what="说明")
    content_type, _head = _check_upload(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    # The name as shown, without path parts or control characters (a NUL cannot be stored).
    name = "".join(ch for ch in Path(str(upload.name)).name if ch.isprintable())[:200] or "upload"
    attachment = Attachment(
        assessment=assessment,
        item_code=item_code,
        stage=stage,
        original_name=name,
        content_type=content_type,
        size=upload.size,
        sha256=digest.hexdigest(),
        note=note,
        uploaded_by=actor,
        uploaded_by_organization=membership.organization,
    )
    attachment.file.save(name, upload, save=False)
    # The file is on disk before its row: if writing the row or its event fails, remove it again.
    try:
        attachment.save()
        event_record(
            action="assessment.attachment.added",
            obj=assessment,
            actor=actor,
            organization=membership.organization,
            subject_organization=assessment.organization,
            division_code=assessment.division_code,
            payload={
                "attachment": str(attachment.pk),
                "item": item_code,
                "stage": stage,
                "name": name,
                "type": content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
            },
        )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment
