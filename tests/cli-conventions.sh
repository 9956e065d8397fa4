#!/bin/bash
# CLI conventions (issue 11): global options anywhere on the line, JSON
# errors with --json, bash completion, the exit-code tables of README.md and
# cmk(1) against src/cmk.h, and cmk.pc's private requirements.
. "${srcdir:-.}/tests/lib.sh"

lab_new
ok "create a key" cmk key create k1
kid=$(cat "$OUT")

# --- global options after the command, and between group and subcommand
ok "cmk --json key list" cmk --json key list
before=$(cat "$OUT")
ok "cmk key list --json" cmk key list --json
is "$(cat "$OUT")" "$before" "--json after the command gives the same JSON"
is "$(jq -r '.[0].name' "$OUT")" k1 "key list --json is JSON naming k1"
ok "cmk key --json list" cmk key --json list
is "$(cat "$OUT")" "$before" "--json between group and subcommand works too"
ok "cmk key show k1 --vault lab --json" cmk key show k1 --vault lab --json
is "$(jq -r .kid "$OUT")" cmk://lab/keys/k1 "key show with --vault and --json after the operand"
expect_fail_msg 4 "vault nope" "--vault after the command is used" cmk key list --vault nope
expect_fail_msg 3 "$T/none.conf" "--config after the command is used" cmk key list --config "$T/none.conf"
expect_fail_msg 9 "bob" "--identity after the command is used" cmk key list --identity bob
ok "unwrap with global options among its own" sh -c 'head -c 32 /dev/urandom >"$T/dek" &&
	"$CMK_BIN" wrap k1 --in "$T/dek" --out "$T/w" --vault lab &&
	"$CMK_BIN" unwrap --in "$T/w" --identity admin --out "$T/dek2" --config "$CMK_CONF"'
same_file "$T/dek" "$T/dek2" "the DEK came back"
# a command's own option of the same name wins: audit show --identity filters
ok "audit show --identity is the command's filter" cmk audit show --identity nobody-at-all
is "$(wc -l <"$OUT")" 0 "audit show --identity nobody-at-all shows no records"

# --- JSON errors
expect_fail_msg 4 '^\{.*"error"' "--json: an error is JSON on stderr" cmk key show nope --json
is "$(jq -r .name "$ERR")" CMK_E_NOT_FOUND "JSON error has the rc name"
is "$(jq -r .code "$ERR")" 4 "JSON error has the code"
like "$(jq -r .error "$ERR")" "nope" "JSON error message names the key"
is "$(wc -l <"$ERR")" 1 "JSON error is one line"
expect_fail_msg 2 '"name":"CMK_E_USAGE"' "--json: a usage error is JSON too" cmk key list --json --bogus
like "$(jq -r .error "$ERR")" "unknown option '--bogus'" "JSON usage error names the option"
expect_fail_msg 2 '"CMK_E_USAGE"' "--json before the command: unknown command is JSON" cmk --json frobnicate
expect_fail_msg 4 '^cmk: key cmk://lab/keys/nope' "without --json the error is text" cmk key show nope

# --- bash completion
ok "cmk completion bash" cmk completion bash
cp "$OUT" "$T/completion.bash"
ok "the completion script is valid bash" bash -n "$T/completion.bash"
complete_words() { # WORDS...: what the script offers for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cmk; printf "%s\n" "${COMPREPLY[@]}"' \
		sh "$T/completion.bash" "$@"
}
like "$(complete_words cmk ke)" "^key$" "completes the group 'key'"
like "$(complete_words cmk key cr)" "^create$" "completes 'key create'"
like "$(complete_words cmk --json key cr)" "^create$" "completes after a global option"
like "$(complete_words cmk key create k --si)" "^--size$" "completes key create's --size"
like "$(complete_words cmk lab init d --)" "--group" "completes lab init's --group"
like "$(complete_words cmk key list --js)" "^--json$" "offers the global --json after the command"
touch "$T/wrapme.bin"
like "$(cd "$T" && complete_words cmk wrap k --in wrapm)" "^wrapme.bin$" "completes a file name after --in"
expect_fail_msg 2 "zsh" "completion for another shell is refused" cmk completion zsh
if [ -n "${abs_top_builddir:-}" ] && [ -f "$abs_top_builddir/Makefile" ]; then
	run make -s -C "$abs_top_builddir" install-bashcompletionDATA DESTDIR="$T/inst"
	f=$(find "$T/inst" -path '*/bash-completion/completions/cmk' 2>/dev/null | head -1)
	if [ "$RC" = 0 ] && [ -n "$f" ] && cmp -s "$f" "$T/completion.bash"; then
		pass "make install puts the completion in bash-completion/completions/cmk"
	else
		fail "make install puts the completion in bash-completion/completions/cmk" "exit $RC, found '$f'"
		diag_file stderr "$ERR"
	fi
else
	skip "make install puts the completion in bash-completion/completions/cmk" "not run from a build tree"
fi

# --- exit codes: src/cmk.h, README.md and cmk(1) agree on 0-24
top=${abs_top_srcdir:-$srcdir}
codes=$(sed -n 's/^[[:space:]]*\(CMK_OK\|CMK_E_[A-Z0-9_]*\) = \([0-9]*\),.*/\2 \1/p' "$top/src/cmk.h")
is "$(echo "$codes" | wc -l)" 25 "cmk.h has 25 result codes (0-24)"
missing=
while read -r n name; do
	grep -qE "^\| $n \| \`$name\` \|" "$top/README.md" || missing="$missing README:$n/$name"
	[ "$n" = 0 ] && continue
	awk -v n="$n" -v name="$name" '$0 == ".B " n { on = 1; next }
		on && /^\.(TQ|SH)/ { on = 0 } on && index($0, "(" name) { f = 1 } END { exit !f }' \
		"$top/man/cmk.1" || missing="$missing cmk.1:$n/$name"
done <<<"$codes"
is "$missing" "" "README.md and cmk(1) list every code 0-24 with its name"
is "$(grep -cE '^\| [0-9]+ \| `CMK_' "$top/README.md")" 25 "README's table has exactly 25 rows"

# --- cmk.pc
if command -v pkg-config >/dev/null && [ -f "${abs_top_builddir:-/nonexistent}/src/cmk.pc" ]; then
	req=$(PKG_CONFIG_PATH=$abs_top_builddir/src pkg-config --print-requires-private cmk 2>&1)
	like "$req" "libcrypto" "cmk.pc Requires.private names libcrypto"
	like "$req" "p11-kit-1" "cmk.pc Requires.private names p11-kit-1"
	like "$req" "json-c" "cmk.pc Requires.private names json-c"
	libs=$(PKG_CONFIG_PATH=$abs_top_builddir/src pkg-config --static --libs cmk 2>&1)
	like "$libs" "-lcmk .*-lp11-kit.*" "pkg-config --static --libs cmk adds p11-kit"
	like "$libs" "-ljson-c" "pkg-config --static --libs cmk adds json-c"
	like "$libs" "-lcrypto" "pkg-config --static --libs cmk adds libcrypto"
else
	skip "cmk.pc Requires.private" "pkg-config or a built cmk.pc is missing"
fi

done_testing
