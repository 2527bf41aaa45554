from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "greenisle.audit"
    label = "audit"
    verbose_name = "Audit chain"
