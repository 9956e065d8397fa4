#!/bin/bash
# --out (issue 10 item 8): devices, FIFOs and symbolic links are written as
# such, never replaced; a symbolic link to a missing file and a directory
# are refused; a regular file appears only when complete, and a SIGKILL
# during a large write leaves no file (unnamed O_TMPFILE linked at the end).
. "${srcdir:-.}/tests/lib.sh"

lab_new
ok "create a key" cmk key create k
rand_file "$T/dek" 32
ok "wrap a DEK" cmk wrap k --in "$T/dek" --out "$T/w"

# --- /dev/null (as root the old code replaced it with a 0600 file)
ok "unwrap -o /dev/null" cmk unwrap --in "$T/w" -o /dev/null
if [ -c /dev/null ]; then pass "/dev/null is still a character device"; else
	fail "/dev/null is still a character device" "$(ls -l /dev/null)"; fi
is "$(stat -c %t,%T /dev/null)" "1,3" "/dev/null is still device 1,3"
is "$(head -c 10 /dev/null | wc -c)" 0 "/dev/null still reads empty"

# --- /dev/stdout and /dev/fd/N are the descriptors, even with a file behind
run cmk unwrap --in "$T/w" -o /dev/stdout
is "$RC" 0 "unwrap -o /dev/stdout with stdout on a file"
same_file "$OUT" "$T/dek" "the file behind /dev/stdout got the DEK (not replaced under the shell)"
ok "unwrap -o /dev/fd/5" sh -c '"$CMK_BIN" unwrap --in "$T/w" -o /dev/fd/5 5>"$T/fd5"'
same_file "$T/fd5" "$T/dek" "the file behind /dev/fd/5 got the DEK"
expect_fail_msg 19 "/dev/fd/7.*Bad file descriptor" "a closed /dev/fd/N is an error" cmk unwrap --in "$T/w" -o /dev/fd/7

# --- a FIFO with a reader gets the DEK; the FIFO stays a FIFO
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/from-fifo" &
reader=$!
ok "unwrap -o FIFO" cmk unwrap --in "$T/w" -o "$T/fifo"
wait "$reader"
same_file "$T/from-fifo" "$T/dek" "the FIFO's reader got the DEK"
if [ -p "$T/fifo" ]; then pass "the FIFO is still a FIFO"; else fail "the FIFO is still a FIFO" "$(ls -l "$T/fifo")"; fi
# decrypt to a FIFO buffers like standard output: the reader gets all or nothing
printf 'hello envelope\n' >"$T/plain"
ok "encrypt" cmk encrypt --key k --in "$T/plain" --out "$T/env"
cat "$T/fifo" >"$T/from-fifo2" &
reader=$!
ok "decrypt -o FIFO" cmk decrypt --in "$T/env" --out "$T/fifo"
wait "$reader"
same_file "$T/from-fifo2" "$T/plain" "decrypt's FIFO reader got the plaintext"

# --- a symbolic link to a regular file: the target is replaced, the link stays
echo old >"$T/real"
ln -s "$T/real" "$T/link"
ok "unwrap -o symlink to a file" cmk unwrap --in "$T/w" -o "$T/link"
if [ -L "$T/link" ] && [ "$(readlink "$T/link")" = "$T/real" ]; then
	pass "the symbolic link is still a link to the same file"
else
	fail "the symbolic link is still a link to the same file" "$(ls -l "$T/link")"
fi
same_file "$T/real" "$T/dek" "the link's target holds the DEK"
is "$(stat -c %a "$T/real")" 600 "the DEK file is mode 0600"
mkdir "$T/sub"
ln -s ../real2 "$T/sub/rel"
echo x >"$T/real2"
ok "a relative symbolic link is followed from its own directory" cmk unwrap --in "$T/w" -o "$T/sub/rel"
same_file "$T/real2" "$T/dek" "the relative link's target holds the DEK"

# --- a symbolic link to a missing file: refused, nothing created
ln -s "$T/nowhere/dek" "$T/dangling"
ln -s "$T/missing-dek" "$T/dangling2"
expect_fail_msg 19 "dangling2.*symbolic link to a file that does not exist" \
	"a symbolic link to a missing file is refused" cmk unwrap --in "$T/w" -o "$T/dangling2"
no_file "$T/missing-dek" "the link's missing target was not created"
if [ -L "$T/dangling2" ]; then pass "the dangling link is left as it was"; else fail "the dangling link is left as it was"; fi
expect_fail_msg 19 "dangling.*symbolic link" "a link into a missing directory is refused" \
	cmk unwrap --in "$T/w" -o "$T/dangling"

# --- a directory is refused
expect_fail_msg 19 "$T/sub.*is a directory" "a directory is refused" cmk unwrap --in "$T/w" -o "$T/sub"

# --- an existing regular file: --out names it, so it is replaced whole
# (as before); a failing command leaves it as it was
echo keep-me >"$T/existing"
expect_fail_msg 24 'not a cmk wrapped key \(no CMKW magic\)' "unwrap of garbage fails" sh -c 'echo garbage | "$CMK_BIN" unwrap -o "$T/existing"'
is "$(cat "$T/existing")" keep-me "a failed command leaves the existing file as it was"
ok "unwrap -o an existing file" cmk unwrap --in "$T/w" -o "$T/existing"
same_file "$T/existing" "$T/dek" "the existing file was replaced by the DEK"
is "$(stat -c %a "$T/existing")" 600 "the replaced file holds the DEK with mode 0600"
ok "wrap output follows the umask" sh -c 'umask 022; "$CMK_BIN" wrap k --in "$T/dek" --out "$T/w-new"'
is "$(stat -c %a "$T/w-new")" 644 "non-secret output is 0666 & ~umask"
is "$(find "$T" -maxdepth 2 -name '*.cmk-*' | wc -l)" 0 "no temporary files are left"

# --- SIGKILL during a large write leaves no file (and no temporary)
head -c $((48 * 1024 * 1024)) /dev/urandom >"$T/big"
ok "encrypt a 48 MiB file" cmk encrypt --key k --in "$T/big" --out "$T/big.env"
mkdir "$T/kill"
bad=0 killed=0
for delay in 0.02 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7 1.0; do
	rm -f "$T/kill"/*
	"$CMK_BIN" decrypt --in "$T/big.env" --out "$T/kill/plain" 2>/dev/null &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	# either nothing, or the complete plaintext; never a partial or temporary file
	for f in "$T/kill"/* "$T/kill"/.[!.]*; do
		[ -e "$f" ] || continue
		if [ "$f" != "$T/kill/plain" ] || ! cmp -s "$f" "$T/big"; then
			bad=$((bad + 1))
			diag "after SIGKILL at ${delay}s: $(ls -la "$T/kill")"
		fi
	done
done
diag "$killed of 10 decrypts were killed while running"
is "$bad" 0 "SIGKILL during decrypt --out leaves no partial or temporary file"
bad=0
for delay in 0.05 0.1 0.2 0.4; do
	rm -f "$T/kill"/*
	"$CMK_BIN" encrypt --key k --in "$T/big" --out "$T/kill/env" 2>/dev/null &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	for f in "$T/kill"/* "$T/kill"/.[!.]*; do
		[ -e "$f" ] || continue
		[ "$f" = "$T/kill/env" ] && "$CMK_BIN" decrypt --in "$f" 2>/dev/null | cmp -s - "$T/big" && continue
		bad=$((bad + 1))
		diag "after SIGKILL at ${delay}s: $(ls -la "$T/kill")"
	done
done
is "$bad" 0 "SIGKILL during encrypt --out leaves no partial or temporary file"
rm -f "$T/big" "$T/big.env"

done_testing
