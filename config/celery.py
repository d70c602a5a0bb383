"""The Celery application: configured from Django settings (CELERY_*), tasks found in each app's tasks.py."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# redis:// and rediss:// broker URLs use kombu's Redis transport with a channel that survives Redis going away
# (config/broker.py); registered by scheme so that kombu's handling of each scheme (TLS for rediss) is unchanged.
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = "config.broker:Transport"

app = Celery("drainboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
