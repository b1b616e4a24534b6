#!/usr/bin/env bash
# Packs every published package as `pnpm publish` would (pnpm pack: workspace versions filled in,
# publishConfig applied, prepack prebuilds the native addons) into DEST (default .vws-tmp/packs), then:
#   - lists each tarball's files (what a publish would upload: the dry run),
#   - refuses tests, sources, source maps, build leftovers and anything outside the published set,
#   - runs publint (warnings are errors) and arethetypeswrong (ESM and CommonJS entries, types resolved
#     under node16 from CJS and ESM, and bundler).
# Exit 0 only when every package is clean. Run by test/install (so CI runs it); runnable by hand.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/env.sh"
dest="${1:-$root/.vws-tmp/packs}"
mkdir -p "$dest"
rm -f "$dest"/*.tgz
cd "$root"
pnpm -s --filter './packages/*' build >/dev/null
for dir in packages/*/; do
  [ "$(node -p "require('./${dir}package.json').private === true")" = true ] && continue
  (cd "$dir" && pnpm pack --pack-destination "$dest" >/dev/null)
done
status=0
for tgz in "$dest"/*.tgz; do
  name="$(basename "$tgz")"
  files="$(tar tzf "$tgz" | sed 's|^package/||' | sort)"
  echo "== $name ($(du -k "$tgz" | cut -f1) KiB packed)"
  echo "$files" | sed 's/^/   /'
  # Published: dist/ (JS and .d.ts), bin/, prebuilds/, and the FUSE addon's sources and install step.
  bad="$(echo "$files" | grep -Ev '^(package\.json|README\.md|dist/.+\.(js|cjs|d\.ts|d\.cts|json)|bin/[^/]+\.(js|d\.ts)|prebuilds/linux-[a-z0-9]+/[^/]+\.(node|LICENSE)|native/[^/]+\.c|binding\.gyp|scripts/(install|addon-path)\.cjs)$' || true)"
  if [ -n "$bad" ]; then echo "check-packages: $name holds files that must not be published:"; echo "$bad" | sed 's/^/   /'; status=1; fi
  # Our machine's paths must not travel (source maps, build info).
  if tar xzf "$tgz" -O | grep -aq "$root"; then echo "check-packages: $name mentions $root"; status=1; fi
  publint run "$tgz" --level warning --strict >"$dest/$name.publint" 2>&1 || { cat "$dest/$name.publint"; status=1; }
  attw "$tgz" --profile node16 --format ascii --no-emoji --no-color >"$dest/$name.attw" 2>&1 || { cat "$dest/$name.attw"; status=1; }
done
[ "$status" -eq 0 ] && echo "check-packages: $(ls "$dest"/*.tgz | wc -l) packages clean (publint, arethetypeswrong node16, contents)"
exit "$status"
