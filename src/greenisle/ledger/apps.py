from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "greenisle.ledger"
    label = "ledger"
    verbose_name = "Ledger"
