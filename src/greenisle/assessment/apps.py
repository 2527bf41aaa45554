from django.apps import AppConfig


class AssessmentConfig(AppConfig):
    name = "greenisle.assessment"
    label = "assessment"
    verbose_name = "Assessment"
