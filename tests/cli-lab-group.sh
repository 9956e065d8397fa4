#!/bin/bash
# Worker processes after privilege drop (issue 11 item 3): `cmk lab init
# --group GROUP` makes a lab that members of GROUP use as its owner does
# (nginx, Apache and PostgreSQL workers run as another user); without it,
# the error names the unreadable file and the user.  Runs as root (CI does):
# makes a system group and user for it with groupadd/useradd if missing.
. "${srcdir:-.}/tests/lib.sh"
[ "$CMK_VALGRIND" = 1 ] && { echo "1..0 # SKIP not a valgrind test"; exit 0; }
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root to make a worker user and run commands as it"
	exit 0
fi
need runuser groupadd useradd getent

GRP=cmk-test-svc
WKR=cmk-test-worker
getent group "$GRP" >/dev/null || groupadd -r "$GRP" || bail "groupadd $GRP failed"
id "$WKR" >/dev/null 2>&1 || useradd -r -M -N -g "$GRP" -d /nonexistent -s /usr/sbin/nologin "$WKR" ||
	bail "useradd $WKR failed"
[ "$(id -gn "$WKR")" = "$GRP" ] || bail "$WKR is not in group $GRP"
uid=$(id -u "$WKR")
chmod 711 "$T" # the worker may pass through the test dir, nothing more

# as_worker CMD...: cmk as the worker, with the lab's environment
as_worker() {
	runuser -u "$WKR" -- env SOFTHSM2_CONF="$SOFTHSM2_CONF" CMK_CONF="$CMK_CONF" "$CMK_BIN" "$@"
}

# --- a shared lab
ok "lab init --group" cmk lab init "$T/glab" --group "$GRP"
export SOFTHSM2_CONF=$T/glab/softhsm2.conf CMK_CONF=$T/glab/cmk.conf LAB=$T/glab
is "$(stat -c '%a %G' "$LAB")" "2770 $GRP" "the lab directory is setgid, group $GRP, no world access"
is "$(stat -c '%a %G' "$LAB/pin")" "640 $GRP" "the PIN file is group-readable"
is "$(stat -c '%a %G' "$LAB/so-pin")" "600 root" "the SO PIN stays the owner's"
is "$(stat -c '%a %G' "$LAB/cmk.conf")" "640 $GRP" "cmk.conf is group-readable"
is "$(stat -c '%a %G' "$LAB/softhsm2.conf")" "640 $GRP" "softhsm2.conf is group-readable"
is "$(stat -c '%a %G' "$LAB/lab.lock")" "660 $GRP" "the vault's lock file is group read/write"
is "$(stat -c '%a %G' "$LAB/lab.audit.log")" "660 $GRP" "the audit log is group read/write"
tokdir=$(echo "$LAB"/tokens/*)
is "$(stat -c '%a %G' "$tokdir")" "2770 $GRP" "the token directory is setgid, group read/write"
is "$(stat -c '%a %G' "$tokdir/token.object")" "660 $GRP" "token.object is group read/write (SoftHSM rewrites it at login)"
world=$(find "$LAB" -perm /o=rwx | wc -l)
is "$world" 0 "nothing in the lab is open to others"

ok "create a key (as root)" cmk key create k
rand_file "$T/dek" 32
ok "wrap a DEK" cmk wrap k --in "$T/dek" --out "$T/w"
chmod 644 "$T/w"
bad=$(find "$tokdir" -type f ! -perm -g=rw | wc -l)
is "$bad" 0 "the token files the key create made are given to the group"
run as_worker unwrap --in "$T/w"
is "$RC" 0 "the worker ($WKR) unwraps with the shared lab"
[ "$RC" = 0 ] || diag_file stderr "$ERR"
cmp -s "$OUT" "$T/dek" && pass "the worker got the DEK" || fail "the worker got the DEK"
ok "rotate (as root) after the worker's login" cmk key rotate k
ok "wrap with the new version" cmk wrap k --in "$T/dek" --out "$T/w2"
chmod 644 "$T/w2"
run as_worker unwrap --in "$T/w2"
is "$RC" 0 "the worker unwraps with a version made after it first logged in"
cmp -s "$OUT" "$T/dek" && pass "the worker got the DEK again" || fail "the worker got the DEK again"
ok "audit verify after the worker's records" cmk audit verify
# the worker repairs the shared lab's token file too, in the group's modes
: >"$tokdir/token.object"
run as_worker key list
is "$RC" 0 "the worker restores an emptied token file of the shared lab"
is "$(stat -c '%a %G' "$tokdir/token.object")" "660 $GRP" "the restored token.object is still group read/write"
ok "root works after the worker's repair" cmk key list

# --- errors name the file and the user
chmod 600 "$LAB/pin"
run as_worker unwrap --in "$T/w"
is "$RC" 11 "an unreadable PIN file: exit 11"
like "$(cat "$ERR")" "PIN file $LAB/pin is not readable by user $WKR \\(uid $uid\\)" "the error names the PIN file and the user"
chmod 640 "$LAB/pin"

# a lab made without --group: the worker cannot use it, and is told why
ok "lab init without --group" cmk lab init "$T/plab"
chmod 755 "$T/plab"
chmod 644 "$T/plab/cmk.conf" "$T/plab/softhsm2.conf"
export SOFTHSM2_CONF=$T/plab/softhsm2.conf CMK_CONF=$T/plab/cmk.conf LAB=$T/plab
ok "create a key in the private lab" cmk key create k
ok "wrap in the private lab" cmk wrap k --in "$T/dek" --out "$T/pw"
chmod 644 "$T/pw"
ptok=$(echo "$T"/plab/tokens/*/token.object)
run as_worker unwrap --in "$T/pw"
is "$RC" 12 "without --group the worker fails (exit 12)"
like "$(cat "$ERR")" "token file $ptok is not readable by user $WKR \\(uid $uid\\)" \
	"the error names the token file and the user"
is "$(wc -c <"$OUT")" 0 "the failed worker printed nothing"
# the same token through a configuration that is not a lab's: the library
# says why SoftHSM fails (it answers CKR_GENERAL_ERROR)
sed '/^\[lab\]/,$d' "$T/plab/cmk.conf" >"$T/plab/plain.conf"
chmod 644 "$T/plab/plain.conf"
run as_worker --config "$T/plab/plain.conf" unwrap --in "$T/pw"
isnt "$RC" 0 "through a plain configuration the worker fails too"
like "$(cat "$ERR")" "token directory $T/plab/tokens.* is not readable by user $WKR \\(uid $uid\\)" \
	"the library's error names the token directory and the user"
chmod 600 "$T/plab/softhsm2.conf"
run as_worker --config "$T/plab/plain.conf" unwrap --in "$T/pw"
like "$(cat "$ERR")" "SoftHSM configuration $T/plab/softhsm2.conf is not readable by user $WKR" \
	"an unreadable softhsm2.conf is named with the user"
expect_fail_msg 2 "no such group" "lab init --group with an unknown group" \
	cmk lab init "$T/xlab" --group cmk-no-such-group-here

done_testing
