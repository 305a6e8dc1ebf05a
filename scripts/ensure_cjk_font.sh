#!/usr/bin/env bash
# Make sure a CJK font is installed so that Chinese plot labels render.
# Installs fonts-wqy-microhei with apt-get when no CJK font is found and we may (root).
set -u
has_cjk() {
  python3 - <<'PY' 2>/dev/null
import sys
from course_utils.tools.plotting import find_cjk_font
sys.exit(0 if find_cjk_font() else 1)
PY
}
if ls /usr/share/fonts/truetype/wqy/*.tt? /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || has_cjk; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "Installing a CJK font (fonts-wqy-microhei) so that Chinese labels render..."
  (apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 ||
   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1)) ||
   echo "WARNING: could not install fonts-wqy-microhei; Chinese labels may render as boxes."
else
  echo "WARNING: no CJK font found. Install one, e.g.: sudo apt-get install fonts-wqy-microhei"
  echo "         (macOS and Windows ship PingFang SC / Microsoft YaHei already)."
fi
exit 0
