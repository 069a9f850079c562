#!/bin/sh
# Copies the npm-pinned echarts build next to the dashboard so that Go embeds
# it into the binary (go:embed cannot reach node_modules). Run by `make assets`.
set -eu
here=$(dirname "$0")
src="$here/../../node_modules/echarts/dist/echarts.min.js"
if [ ! -f "$src" ]; then
	echo "echarts is not installed: run npm ci at the repository root" >&2
	exit 1
fi
cmp -s "$src" "$here/echarts.min.js" 2>/dev/null || cp "$src" "$here/echarts.min.js"
