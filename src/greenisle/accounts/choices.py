from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    CLERK = "clerk", _("Clerk")
    DISPATCHER = "dispatcher", _("Dispatcher")
    DRIVER = "driver", _("Driver")
    RECEIVER = "receiver", _("Receiver")
    INSPECTOR = "inspector", _("Inspector")
