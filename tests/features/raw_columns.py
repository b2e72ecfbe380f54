"""The release's file layout as ``/work/shared/spec/kemophone-data.md`` describes it, for the tests.

Written from the data spec alone (nothing of ``kemo_attention`` is imported), so that the
oracle's reader and the release writer of the whole-row comparison do not share the product's
schema table: a column the product names differently shows up as a failure.
"""

from __future__ import annotations

# File stem -> columns besides ``timestamp`` (the data spec's tables, current spelling).
SENSOR_COLUMNS: dict[str, tuple[str, ...]] = {
    # Wristband
    "Acceleration": ("x", "y", "z"),
    "AmbientLight": ("brightness",),
    "Calorie": ("caloriesToday", "totalCalories"),
    "Distance": ("motionType", "pace", "speed", "distanceToday", "totalDistance"),
    "EDA": ("resistance",),
    "HR": ("bpm",),
    "RRI": ("interval",),
    "SkinTemperature": ("temperature",),
    "StepCount": ("stepsToday", "totalSteps"),
    "UltraViolet": ("intensity", "exposureToday", "totalExposure"),
    # Phone
    "ActivityEvent": (
        "confidenceStill", "confidenceUnknown", "confidenceOnFoot", "confidenceWalking",
        "confidenceInVehicle", "confidenceOnBicycle", "confidenceRunning", "confidenceTilting",
    ),
    "ActivityTransition": ("transitionType",),
    "AppUsageEvent": ("name", "packageName", "isSystemApp", "type", "isUpdatedSystemApp", "category"),
    "BatteryEvent": ("status", "temperature", "level", "plugged"),
    "CallEvent": ("number", "contact", "timesContacted", "isPinned", "isStarred", "duration"),
    "Connectivity": ("isConnected", "type"),
    "DataTraffic": ("rxKiloBytes", "txKiloBytes", "duration"),
    "InstalledApp": (
        "name", "lastUpdateTime", "packageName", "isSystemApp", "firstInstallTime", "isUpdatedSystemApp", "category",
    ),
    "Location": ("altitude", "longitude", "latitude", "speed", "accuracy"),
    "MediaEvent": ("mimetype", "bucketDisplay"),
    "MessageEvent": ("messageBox", "isPinned", "timesContacted", "number", "contact", "isStarred", "messageClass"),
    "WiFi": ("bssid", "frequency", "rssi"),
    "ScreenEvent": ("type",),
    "RingerModeEvent": ("type",),
    "ChargeEvent": ("type",),
    "PowerSaveEvent": ("type",),
    "OnOffEvent": ("type",),
}  # fmt: skip
assert len(SENSOR_COLUMNS) == 27

ESM_COLUMNS = (
    "pcode", "responseTime", "scheduledTime", "valence", "arousal", "attention", "stress", "duration",
    "disturbance", "change",
)  # fmt: skip
USERINFO_COLUMNS = (
    "pcode", "participationStartDate", "age", "gender", "openness", "conscientiousness", "neuroticism",
    "extraversion", "agreeableness", "PSS", "PHQ", "GHQ",
)  # fmt: skip

# Older copies capitalise the names; a few are all capitals.
_LEGACY_SPECIAL = {"bpm": "BPM", "pcode": "Pcode"}


def legacy_name(name: str) -> str:
    """``bpm`` -> ``BPM``, ``x`` -> ``X``, ``totalSteps`` -> ``TotalSteps``, ``timestamp`` -> ``Timestamp``."""
    return _LEGACY_SPECIAL.get(name, name[:1].upper() + name[1:])
