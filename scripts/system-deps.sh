#!/usr/bin/env bash
# Debian/Ubuntu packages the app and its tests use:
#   libpulse0 (QtMultimedia loads it), espeak-ng (offline TTS), lame + vorbis-tools (MP3/OGG podcast
#   audio when ffmpeg is absent), xvfb + xauth (screenshots of the real window), the xcb libraries Qt's
#   X11 platform plugin needs, fonts, tesseract-ocr (OCR of scanned PDF pages; optional at run time), openbox + xdotool (end-to-end tests and screenshots under a real window
#   manager), imagemagick (the end-to-end tests' screenshots of the X display).
# Installs them when run as root (or with password-less sudo) on apt systems; otherwise prints the
# command and carries on.
set -uo pipefail
PKGS=(libpulse0 espeak-ng lame vorbis-tools xvfb xauth libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0
      libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0
      libxcb-xinerama0 libxcb-xkb1 libxcb-image0 fonts-dejavu-core tesseract-ocr tesseract-ocr-eng openbox xdotool imagemagick)

command -v dpkg-query >/dev/null 2>&1 || { echo "[system-deps] not a Debian-based system; install the equivalents of: ${PKGS[*]}"; exit 0; }
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "[system-deps] all present"; exit 0; }

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "[system-deps] missing: ${missing[*]}"
    echo "[system-deps] install them with: sudo apt-get install -y ${missing[*]}"
    exit 0
  fi
fi
echo "[system-deps] installing: ${missing[*]}"
$SUDO apt-get update -qq || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
