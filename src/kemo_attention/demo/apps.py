"""The demo phones' apps: names (Korean where the release's are), packages, categories.

Usage weights follow the release's AppUsageEvent counts loosely (KakaoTalk dominates,
then the launcher and the system); the installed set adds the many system packages that
make up most rows of the release's InstalledApp snapshots.
"""

from __future__ import annotations

import numpy as np

# name, packageName, isSystemApp, isUpdatedSystemApp, category, usage weight
USED_APPS: tuple[tuple[str, str, bool, bool, str, float], ...] = (
    ("카카오톡", "com.kakao.talk", False, False, "COMMUNICATION", 30.0),
    ("Samsung Experience 홈", "com.sec.android.app.launcher", True, True, "PERSONALIZATION", 10.0),
    ("안드로이드 시스템", "android", True, False, "SYSTEM", 6.0),
    ("Facebook", "com.facebook.katana", False, False, "SOCIAL", 3.5),
    ("시스템 UI", "com.android.systemui", True, False, "SYSTEM", 2.0),
    ("트위터", "com.twitter.android", False, False, "SOCIAL", 1.8),
    ("Chrome", "com.android.chrome", True, True, "COMMUNICATION", 1.6),
    ("Polar Beat", "fi.polar.beat", False, False, "HEALTH_AND_FITNESS", 1.4),
    ("캐시워크", "com.cashwalk.cashwalk", False, False, "HEALTH_AND_FITNESS", 1.3),
    ("네이버 웹툰", "com.nhn.android.webtoon", False, False, "COMICS", 1.3),
    ("삼성 인터넷", "com.sec.android.app.sbrowser", True, True, "COMMUNICATION", 1.2),
    ("Instagram", "com.instagram.android", False, False, "SOCIAL", 1.1),
    ("설정", "com.android.settings", True, False, "TOOLS", 1.0),
    ("YouTube", "com.google.android.youtube", True, True, "VIDEO_PLAYERS", 1.0),
    ("메시지", "com.samsung.android.messaging", True, True, "COMMUNICATION", 0.9),
    ("시계", "com.sec.android.app.clockpackage", True, False, "TOOLS", 0.8),
    ("디시인사이드", "com.dcinside.app", False, False, "SOCIAL", 0.7),
    ("카카오페이지", "com.kakao.page", False, False, "BOOKS_AND_REFERENCE", 0.6),
    ("네이버", "com.nhn.android.search", False, False, "COMMUNICATION", 0.6),
    ("에브리타임", "com.everytime.v2", False, False, "EDUCATION", 0.5),
    ("멜론", "com.iloen.melon", False, False, "MUSIC_AND_AUDIO", 0.5),
    ("카메라", "com.sec.android.app.camera", True, False, "PHOTOGRAPHY", 0.4),
    ("갤러리", "com.sec.android.gallery3d", True, True, "PHOTOGRAPHY", 0.4),
    ("토스", "viva.republica.toss", False, False, "FINANCE", 0.3),
    ("배달의민족", "com.sampleapp", False, False, "FOOD_AND_DRINK", 0.3),
    ("카카오맵", "net.daum.android.map", False, False, "MAPS_AND_NAVIGATION", 0.3),
    ("Google Play 스토어", "com.android.vending", True, True, "SHOPPING", 0.2),
    ("캘린더", "com.samsung.android.calendar", True, False, "PRODUCTIVITY", 0.2),
    ("Gmail", "com.google.android.gm", True, True, "COMMUNICATION", 0.2),
    ("날씨", "com.sec.android.daemonapp", True, False, "WEATHER", 0.15),
    ("브롤스타즈", "com.supercell.brawlstars", False, False, "GAME", 0.3),
    ("쿠팡", "com.coupang.mobile", False, False, "SHOPPING", 0.15),
    ("Paco", "com.pacoapp.paco", False, False, "LIFESTYLE", 1.2),
    ("ABC Logger", "kaist.iclab.abclogger", False, False, "TOOLS", 0.05),
)

# Apps some participants install or update during the week (INS_JAC changes).
EXTRA_APPS: tuple[tuple[str, str, bool, bool, str], ...] = (
    ("Netflix", "com.netflix.mediaclient", False, False, "ENTERTAINMENT"),
    ("네이버 지도", "com.nhn.android.nmap", False, False, "TRAVEL_AND_LOCAL"),
    ("스노우", "com.campmobile.snow", False, False, "PHOTOGRAPHY"),
    ("리디북스", "com.initialcoms.ridi", False, False, "BOOKS_AND_REFERENCE"),
    ("오늘의집", "net.bucketplace", False, False, "HOUSE_AND_HOME"),
    ("스타일쉐어", "com.styleshare.android", False, False, "BEAUTY"),
    ("네이버 스포츠", "com.nhn.android.sports", False, False, "SPORTS"),
    ("조선일보", "kr.co.chosun.mobile", False, False, "NEWS_AND_MAGAZINES"),
)

_SYSTEM_STEMS = (
    "providers.telephony", "externalstorage", "wallpapercropper", "providers.calendar", "providers.media",
    "htmlviewer", "documentsui", "providers.downloads", "defcontainer", "mms.service", "pacprocessor",
    "statementservice", "providers.contacts", "bluetooth", "nfc", "printspooler", "shell", "keychain",
    "inputdevices", "location.fused", "providers.settings", "server.telecom", "phone", "carrierconfig",
    "cellbroadcastreceiver", "captiveportallogin", "emergency", "backupconfirm", "sharedstoragebackup",
    "vpndialogs", "dreams.basic", "egg", "managedprovisioning", "proxyhandler", "smspush", "wallpaperbackup",
)
SYSTEM_PACKAGES: tuple[tuple[str, str, bool, bool, str], ...] = tuple(
    (f"com.android.{s}", f"com.android.{s}", True, i % 7 == 0, "TOOLS" if i % 3 else "MISC") for i, s in enumerate(_SYSTEM_STEMS)
) + (
    ("전화", "com.samsung.android.dialer", True, True, "COMMUNICATION"),
    ("소프트웨어 업데이트", "com.wssyncmldm", True, False, "TOOLS"),
    ("SmartThings", "com.samsung.android.oneconnect", True, True, "LIFESTYLE"),
    ("Google One Time Init", "com.google.android.onetimeinitializer", True, False, "TOOLS"),
    ("외부 저장소", "com.android.externalstorage.ui", True, False, "TOOLS"),
    ("AhnLab V3 Mobile Plus 2.0", "com.ahnlab.v3mobileplus", False, False, "TOOLS"),
    ("ConfigUpdater", "com.google.android.configupdater", True, False, "TOOLS"),
    ("패키지 액세스 도움말", "com.samsung.android.packageinstaller", True, False, "TOOLS"),
)


def usage_weights(rng: np.random.Generator) -> np.ndarray:
    """One person's app preferences: the common weights, perturbed."""
    base = np.array([a[5] for a in USED_APPS])
    w = base * rng.lognormal(0.0, 0.6, base.size)
    return w / w.sum()
