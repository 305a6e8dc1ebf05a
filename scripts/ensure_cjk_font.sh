#!/usr/bin/env bash
# Make sure a CJK font is installed so that Chinese plot labels render; print one line saying so.
# Installs fonts-wqy-microhei with apt-get when no CJK font is found and we may (root).
set -u
has_cjk() {
  python3 - <<'PY' 2>/dev/null
import sys
from course_utils.tools.plotting import find_cjk_font
sys.exit(0 if find_cjk_font() else 1)
PY
}
has_font_file() {  # the fonts that apt installs (fast: no Python)
  local f
  for f in /usr/share/fonts/truetype/wqy/*.tt? /usr/share/fonts/opentype/noto/NotoSansCJK*; do
    [ -e "$f" ] && return 0
  done
  return 1
}
if has_font_file || has_cjk; then
  echo "found"
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo -n "none: installing fonts-wqy-microhei with apt-get ..."
  if apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 ||
     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1); then
    echo " done"
  else
    echo " failed: Chinese labels may render as boxes"
  fi
else
  echo "none found: Chinese labels would render as boxes. Install one, e.g."
  echo "    sudo apt-get install fonts-wqy-microhei   (macOS and Windows ship PingFang SC / Microsoft YaHei)"
fi
exit 0
