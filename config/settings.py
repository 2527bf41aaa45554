"""Settings for greenisle, read from the environment.

SQLite (WAL) is the embedded default; set DATABASE_URL for PostgreSQL. DEBUG is off unless
GREENISLE_DEBUG=1. Set GREENISLE_HTTPS=1 behind TLS to turn on secure cookies, HSTS and the
HTTPS redirect (``greenisle check --deploy`` is clean with it). The secret key comes from
GREENISLE_SECRET_KEY or, on a laptop, from a random key generated once into var/secret_key.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GREENISLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    key = os.environ.get("GREENISLE_SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("GREENISLE_DEBUG")
HTTPS = env_bool("GREENISLE_HTTPS")
ALLOWED_HOSTS = [h for h in os.environ.get("GREENISLE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("GREENISLE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "greenisle.core",
    "greenisle.audit",
    "greenisle.accounts",
    "greenisle.organizations",
    "greenisle.catalog",
    "greenisle.devices",
    "greenisle.telemetry",
    "greenisle.dispatch",
    "greenisle.tracking",
    "django_tasks",
    "django_tasks_db",
    "greenisle.manifests",
    "greenisle.ledger",
    "greenisle.plans",
    "greenisle.supervision",
    "greenisle.assessment",
    "greenisle.notifications",
    "greenisle.api",
    "greenisle.web",
    "greenisle.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "greenisle.core.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "greenisle.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "greenisle.accounts.middleware.CurrentMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "greenisle.web.context_processors.membership",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'greenisle.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so that
    # row-lock sections (manifest serials, the audit chain) serialise instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory, so that concurrency tests can open several connections.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "src" / "greenisle" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
_NODE = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    (prefix, path)
    for prefix, path in [
        ("vendor/htmx", _NODE / "htmx.org" / "dist"),
        ("vendor/leaflet", _NODE / "leaflet" / "dist"),
        ("vendor/echarts", _NODE / "echarts" / "dist"),
    ]
    if path.exists()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("GREENISLE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GREENISLE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# Platform rules that are configuration, not constants.
GREENISLE = {
    # 办法 Art. 18: the receiver confirms within 5 working days of receipt.
    "RECEIPT_CONFIRMATION_WORKING_DAYS": 5,
    # Reminders go out this many working days before a receipt is due.
    "RECEIPT_REMINDER_WORKING_DAYS": 1,
    # 办法 Art. 20: a paper manifest is entered within 10 working days of the transfer's end.
    "PAPER_ENTRY_WORKING_DAYS": 10,
    # A received weight differing from the manifest's by more than this is a quantity discrepancy
    # (办法 Art. 18); a label's weight differing from the scale by more stops the loading (Art. 13).
    "RECEIPT_WEIGHT_TOLERANCE_PCT": float(os.environ.get("GREENISLE_RECEIPT_WEIGHT_TOLERANCE_PCT", "5")),
    # 办法 Art. 14: a manifest whose waste code or receiver is not in the producer's filed plan is
    # an error, or only a warning for registration-class producers (HJ 1259 §4.2) unless set here.
    "PLAN_CHECK_REGISTRATION_SEVERITY": os.environ.get(
        "GREENISLE_PLAN_CHECK_REGISTRATION_SEVERITY", "warning"
    ),
    "PLAN_CHECK_SEVERITY": os.environ.get("GREENISLE_PLAN_CHECK_SEVERITY", "error"),
    # 固废法 (2020) Art. 81: a unit collecting or storing hazardous waste stores it at most one year.
    "STORAGE_MAX_DAYS": 365,
    # 《危险废物经营许可证管理办法》 (国务院令第408号): a 收集经营许可证 holder hands what it collected to a
    # utilisation/disposal facility within 90 working days.
    "COLLECTION_HANDOVER_WORKING_DAYS": 90,
    # Reminders go out this many days before a storage limit, for a unit without a StoragePolicy of
    # its own (local caps on days and tonnes are per collector, in StoragePolicy).
    "STORAGE_REMINDER_DAYS": int(os.environ.get("GREENISLE_STORAGE_REMINDER_DAYS", "10")),
    # A unit's stock counts as approaching its local tonnage cap from this share of it.
    "STORAGE_TONNES_REMINDER_PCT": float(os.environ.get("GREENISLE_STORAGE_TONNES_REMINDER_PCT", "90")),
    # Mass balance of a unit per waste code (ledger vs containers vs manifests, HJ 1259-2022 §6): a gap
    # is a finding only beyond both this share of what came in and this many kg.
    "MASS_BALANCE_TOLERANCE_PCT": float(os.environ.get("GREENISLE_MASS_BALANCE_TOLERANCE_PCT", "5")),
    "MASS_BALANCE_TOLERANCE_KG": float(os.environ.get("GREENISLE_MASS_BALANCE_TOLERANCE_KG", "1")),
    # The organisation that must rectify a finding is reminded this many days before its deadline
    # (deadlines per rule in supervision/rules.py).
    "FINDING_REMINDER_DAYS": int(os.environ.get("GREENISLE_FINDING_REMINDER_DAYS", "3")),
    # Per-rule overrides of the finding checks (supervision/checks): {"rule.code": {"enabled": false}}
    # or a rule's own parameters ({"bin.over_threshold_uncollected": {"hours": 48}}), as JSON.
    "FINDING_RULES": json.loads(os.environ.get("GREENISLE_FINDING_RULES", "{}") or "{}"),
    # The command centre's map draws district boundaries from a bundled GeoJSON and needs no tiles;
    # set a tile server URL ({z}/{x}/{y}) to draw a base map under them.
    "MAP_TILE_URL": os.environ.get("GREENISLE_MAP_TILE_URL", ""),
    # A CJK font for PDF documents: "path" or "path:index" (a collection); empty = ask fontconfig.
    "PDF_FONT": os.environ.get("GREENISLE_PDF_FONT", ""),
    "LABEL_WEIGHT_TOLERANCE_PCT": float(os.environ.get("GREENISLE_LABEL_WEIGHT_TOLERANCE_PCT", "5")),
    # Fill level at or below which a bin counts as emptied (closes its pickup request).
    "BIN_EMPTIED_PCT": float(os.environ.get("GREENISLE_BIN_EMPTIED_PCT", "15")),
    # Raw readings are kept this long (then only hourly rollups); a reading older than this is refused.
    "READINGS_RAW_RETENTION_DAYS": int(os.environ.get("GREENISLE_READINGS_RAW_RETENTION_DAYS", "400")),
    # Hourly rollups: at least five years, like the ledgers they support (HJ 1259-2022 §5.3).
    "ROLLUP_RETENTION_DAYS": max(1827, int(os.environ.get("GREENISLE_ROLLUP_RETENTION_DAYS", "1827"))),
    # A bin is offline after this many reporting intervals without a reading.
    "OFFLINE_MISSED_INTERVALS": 3,
    "DOOR_OPEN_LIMIT_S": int(os.environ.get("GREENISLE_DOOR_OPEN_LIMIT_S", "900")),
    "TEMPERATURE_LIMIT_C": float(os.environ.get("GREENISLE_TEMPERATURE_LIMIT_C", "45")),
    # The temperature alert clears only this far below the limit (no flapping around it).
    "TEMPERATURE_CLEAR_MARGIN_C": 2.0,
    "MQTT_HOST": os.environ.get("GREENISLE_MQTT_HOST", "127.0.0.1"),
    "MQTT_PORT": int(os.environ.get("GREENISLE_MQTT_PORT", "1883")),
    "MQTT_SHARE_GROUP": os.environ.get("GREENISLE_MQTT_SHARE_GROUP", "greenisle"),
    "HJ212_HOST": os.environ.get("GREENISLE_HJ212_HOST", "127.0.0.1"),
    "HJ212_PORT": int(os.environ.get("GREENISLE_HJ212_PORT", "9212")),
    # Trucks' JT/T 808 terminals. Auto-registration creates a terminal for an unknown phone number
    # whose reported plate is one of the platform's vehicles.
    "JT808_HOST": os.environ.get("GREENISLE_JT808_HOST", "127.0.0.1"),
    "JT808_PORT": int(os.environ.get("GREENISLE_JT808_PORT", "7808")),
    "JT808_AUTO_REGISTER": os.environ.get("GREENISLE_JT808_AUTO_REGISTER", "") in ("1", "true", "yes"),
    # Truck alert thresholds (tracking.alerts, docs/tracking.md).
    "TRUCK_OFF_ROUTE_M": float(os.environ.get("GREENISLE_TRUCK_OFF_ROUTE_M", "1000")),
    "TRUCK_OFF_ROUTE_S": float(os.environ.get("GREENISLE_TRUCK_OFF_ROUTE_S", "300")),
    "TRUCK_STOP_S": float(os.environ.get("GREENISLE_TRUCK_STOP_S", "600")),
    "TRUCK_STOP_RADIUS_M": float(os.environ.get("GREENISLE_TRUCK_STOP_RADIUS_M", "300")),
    "TRUCK_CABIN_LIMIT_C": float(os.environ.get("GREENISLE_TRUCK_CABIN_LIMIT_C", "35")),
    # The private bin-metric convention for HJ 212 (protocols.md §1.8): factor codes per metric.
    "HJ212_METRICS": {
        "fill": "i43001",
        "weight": "i43002",
        "temperature": "a01001",
        "battery": "i43003",
        "door_log": "i31001",
        "door_state": "i32001",
    },
    # Route planning: road distance = great-circle distance x circuity, at this average speed, unless
    # a routing engine is configured (OSRM `table` or Valhalla `sources_to_targets`).
    "ROUTING_CIRCUITY": float(os.environ.get("GREENISLE_ROUTING_CIRCUITY", "1.3")),
    "ROUTING_SPEED_KMH": float(os.environ.get("GREENISLE_ROUTING_SPEED_KMH", "35")),
    "ROUTING_ENGINE": os.environ.get("GREENISLE_ROUTING_ENGINE", ""),  # "", "osrm" or "valhalla"
    "ROUTING_ENGINE_URL": os.environ.get("GREENISLE_ROUTING_ENGINE_URL", ""),
    # A producer's request without a weight is planned at this load (kg).
    "PLANNING_DEFAULT_LOAD_KG": 100,
    # A bin predicted to reach its threshold before the next plan is an optional stop worth this
    # much (yuan): a truck passing by takes it when the detour costs less.
    "PLANNING_PREDICTED_PRIZE_YUAN": float(os.environ.get("GREENISLE_PLANNING_PREDICTED_PRIZE_YUAN", "60")),
    "PLANNING_SECONDS": int(os.environ.get("GREENISLE_PLANNING_SECONDS", "30")),
}

# Background work (route planning, imports) through Django's Tasks API. The database backend needs no
# broker; `greenisle db_worker` runs the tasks. "immediate" runs them in the caller (tests, scripts).
TASKS = {
    "default": {
        "BACKEND": {
            "database": "django_tasks_db.DatabaseBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[os.environ.get("GREENISLE_TASKS", "database")]
    }
}

NINJA_PAGINATION_PER_PAGE = 50
