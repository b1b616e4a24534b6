#!/usr/bin/env bash
# The install test's user: installs the tarballs ($PACKS) and Mastra with npm into $APP (npm cache: $CACHE),
# then runs every README example (copied into $APP/examples) and the installed vws binary, each
# one's output and exit code into $APP/out/. The same script runs on the host and inside bubblewrap.
set -u
cd "$APP"
mkdir -p out
echo '{"name":"vws-install-app","private":true}' > package.json
npm install --no-audit --no-fund --cache "$CACHE" --prefer-offline "$PACKS"/*.tgz "@mastra/core@$MASTRA" "zod@$ZOD" > out/npm-install.txt 2>&1
echo $? > out/npm-install.code
export VWS_HOME="$APP/vws-home"
# Every entry point, from both module systems.
entries='["@vws/inode-fs","@vws/fuse","@vws/filesystem-inode","@vws/sandbox-pty","@vws/sandbox-pty/runner","@vws/workspace","@vws/cli"]'
node -e "for (const e of $entries) console.log(e, Object.keys(require(e)).length > 0)" > out/require.txt 2>&1; echo $? > out/require.code
node --input-type=module -e "for (const e of $entries) console.log(e, Object.keys(await import(e)).length > 0)" > out/import.txt 2>&1; echo $? > out/import.code
for f in examples/*; do
  name="$(basename "$f")"
  case "$f" in *.sh) cmd=(bash -e "$f");; *) cmd=(node "$f");; esac
  timeout 240 "${cmd[@]}" > "out/$name.txt" 2>&1
  echo $? > "out/$name.code"
done
timeout 60 npx vws --help > out/help.txt 2>&1; echo $? > out/help.code
timeout 60 npx vws vault create v --json > out/vault.txt 2>&1; echo $? > out/vault.code
timeout 120 npx vws exec --vault v -- sh -c 'echo made by exec > e.txt; cat e.txt' > out/exec.txt 2>&1; echo $? > out/exec.code
timeout 60 npx vws cat /e.txt --vault v > out/cat.txt 2>&1; echo $? > out/cat.code
timeout 60 npx vws doctor --json > out/doctor.txt 2>/dev/null; echo $? > out/doctor.code
timeout 60 npx vws daemon stop > /dev/null 2>&1
exit 0
