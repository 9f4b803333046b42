#!/usr/bin/env bash
# Draws the MergeGuard icon (a white envelope on a blue shield) with ImageMagick and
# writes the RGBA PNG sizes tauri.conf.json lists. Run from anywhere: icons/make-icons.sh
set -euo pipefail
cd "$(dirname "$0")"
command -v convert >/dev/null || { echo "ImageMagick (convert) is not installed" >&2; exit 1; }

# One 512 px master, drawn on a transparent canvas; the smaller sizes are scaled from it
# so every size shows the same picture.
convert -size 512x512 xc:none \
  -fill '#1f5fbf' -stroke '#17457f' -strokewidth 10 \
  -draw "path 'M 256,28 L 456,96 L 456,250 C 456,372 372,446 256,486 C 140,446 56,372 56,250 L 56,96 Z'" \
  -fill white -stroke none \
  -draw "roundrectangle 132,170 380,338 14,14" \
  -fill none -stroke '#1f5fbf' -strokewidth 16 -draw "polyline 146,184 256,268 366,184" \
  -fill '#2e9e5b' -stroke white -strokewidth 8 -draw "circle 372,352 372,406" \
  -fill none -stroke white -strokewidth 14 -draw "polyline 346,352 366,374 400,330" \
  PNG32:icon.png.tmp
mv icon.png.tmp icon.png

# Every hicolor size a Linux desktop asks for (menus 16-48, launchers 64-256).
for size in 16 24 32 48 64 128 256; do
  convert icon.png -resize "${size}x${size}" PNG32:"$size.png.tmp"
done
for size in 16 24 32 48 64 128; do mv "$size.png.tmp" "${size}x${size}.png"; done
mv 256.png.tmp 128x128@2x.png
cp 128x128.png ../ui/logo.png
identify icon.png ./*x*.png
