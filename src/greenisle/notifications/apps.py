from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "greenisle.notifications"
    label = "notifications"
    verbose_name = "Notifications"
