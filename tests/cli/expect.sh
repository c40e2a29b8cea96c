#!/usr/bin/env bash
# expect.sh ok|fail PATTERN -- COMMAND...
# Runs COMMAND; passes when its exit status matches (ok: 0, fail: non-zero)
# and its combined output matches the extended regex PATTERN.
set -u
want=$1 pattern=$2
shift 3
out=$("$@" 2>&1)
status=$?
echo "$out"
if [ "$want" = ok ] && [ $status -ne 0 ]; then echo "FAIL: exit $status, wanted 0"; exit 1; fi
if [ "$want" = fail ] && [ $status -eq 0 ]; then echo "FAIL: exit 0, wanted non-zero"; exit 1; fi
if [ "$want" = fail ] && [ $status -gt 2 ]; then echo "FAIL: exit $status looks like a crash"; exit 1; fi
if ! grep -Ezq -- "$pattern" <<<"$out"; then echo "FAIL: output does not match /$pattern/"; exit 1; fi
exit 0
