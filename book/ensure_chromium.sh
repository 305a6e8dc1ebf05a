#!/usr/bin/env bash
# make test-book and make test-browser need a headless Chromium and a CJK font, both from Debian's packages.
# Playwright drives this system browser; it never downloads a browser of its own.
set -u
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qiE "cjk|wqy|wenquanyi" || missing+=(fonts-wqy-microhei)
command -v fc-list >/dev/null 2>&1 || missing+=(fontconfig)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing ${missing[*]} from Debian's packages for the browser test..."
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; } ||
    { echo "could not install ${missing[*]}: apt-get install ${missing[*]}"; exit 1; }
else
  echo "the browser tests need: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})"
  exit 1
fi
