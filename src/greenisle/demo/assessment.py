"""The demo producer's standardised-management self-assessment of last year, submitted by its clerk,
so the district inspector has one to review (规范化环境管理评估: self-assessment → district review →
city spot check). Walked through the services like the round: evidence pre-filled from the history,
the platform's suggestions accepted, a note for each item it cannot know."""

from __future__ import annotations

from typing import Any

from greenisle.assessment.models import Assessment
from greenisle.assessment.services import assessment_self_save, assessment_start, assessment_submit

# What the clerk writes for the items the platform has no record of (responsibility system,
# emergency plan, training): the documents a workshop keeps on file.
NOTES = "制度文件已归档（厂长签发），见现场资料柜 / on file, signed by the manager"


def demo_assessment(*, clerk: Any, producer: Any, year: int) -> Assessment:
    assessment = assessment_start(actor=clerk, organization_id=producer.pk, year=year)
    scores: dict[str, Any] = {}
    for item in assessment.items.all():
        if item.suggested_score is None:
            scores[item.code] = {"score": 2, "note": NOTES}
        else:
            scores[item.code] = {"score": item.suggested_score}
    assessment_self_save(actor=clerk, assessment_id=assessment.pk, scores=scores)
    return assessment_submit(actor=clerk, assessment_id=assessment.pk)
