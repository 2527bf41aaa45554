from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "greenisle.accounts"
    label = "accounts"
    verbose_name = "Accounts"
