#!/bin/bash
# cmk resource with its service-managed key: create, put, get, list, rm,
# show; object names and metadata are not visible in the directory; errors.
. "${srcdir:-.}/tests/lib.sh"
lab_new
export CMK_RESOURCE_DIR=$T/res
ok "resource create r1" cmk resource create r1
like "$(cat "$ERR")" "cmk://lab/keys/svc-r1" "create names its service-managed key"
key_json svc-r1
is "$(jq -r '(.version_list // .versions)[0].key_ops' "$OUT")" "wrapKey,unwrapKey" "svc-r1 may only wrap and unwrap"
is "$(jq -r '.size' "$OUT")" 2048 "svc-r1 is RSA 2048"

expect_fail_msg 5 'resource r1: cannot create .*/res/r1: it already exists' "creating r1 again is refused" cmk resource create r1
expect_fail_msg 2 'resource name .bad/name. may only hold A-Z a-z 0-9 and .-.' "a bad resource name is refused" cmk resource create "bad/name"
expect_fail_msg 4 'resource nosuch does not exist \(in .*/res\)' "an unknown resource is refused" cmk resource list nosuch

rand_file "$T/big" 300000
printf 'hello\n' >"$T/small"
ok "put a small object from a file" cmk resource put r1 "greeting.txt" --in "$T/small"
ok "put a 300 KB object from stdin" cmk resource put r1 "dir/secret report.bin" <"$T/big"
: >"$T/empty"
ok "put an empty object" cmk resource put r1 empty --in "$T/empty"
ok "get to a file" cmk resource get r1 "dir/secret report.bin" --out "$T/big.out"
same_file "$T/big.out" "$T/big" "300 KB round trip"
is "$(stat -c %a "$T/big.out")" 600 "objects are written mode 0600"
run cmk resource get r1 greeting.txt
is "$(cat "$OUT")" "hello" "get to stdout"
ok "get an empty object" cmk resource get r1 empty --out "$T/empty.out"
is "$(stat -c %s "$T/empty.out")" 0 "the empty object is empty"
run cmk resource list r1
is "$(cat "$OUT" | tr '\n' '|')" "dir/secret report.bin|empty|greeting.txt|" "list gives the names, sorted"
run cmk --json resource list r1
is "$(jq -r 'length' "$OUT")" 3 "list --json"
printf 'hello again\n' >"$T/small2"
ok "put replaces an object" cmk resource put r1 greeting.txt --in "$T/small2"
run cmk resource get r1 greeting.txt
is "$(cat "$OUT")" "hello again" "the new contents are returned"
run cmk --json resource show r1
is "$(jq -r .objects "$OUT")" 3 "show counts 3 objects"
is "$(jq -r .key_source "$OUT")" service-managed "show: service-managed"

# what the directory reveals: count and sizes, not names or metadata
is "$(ls "$T/res/r1/objects" | wc -l)" 3 "the directory holds one file per object"
if grep -rqaE "greeting|secret report|dir/" "$T/res/r1"; then
	fail "object names appear nowhere in the directory"
else
	pass "object names appear nowhere in the directory"
fi
if grep -rqa "hello" "$T/res/r1"; then fail "object data is not in clear"; else pass "object data is not in clear"; fi
ls "$T/res/r1/objects" | grep -qvE '^[0-9a-f]{32}$' && fail "object files have opaque 32-hex names" ||
	pass "object files have opaque 32-hex names"

expect_fail_msg 4 "no object 'nothere'" "get of a missing object is refused" cmk resource get r1 nothere
no_file "$T/nothere.out" "nothing written for a missing object"
ok "rm an object" cmk resource rm r1 greeting.txt
expect_fail_msg 4 'resource r1: no object .greeting\.txt.' "rm again is refused" cmk resource rm r1 greeting.txt
expect_fail_msg 4 'resource r1 has no object .greeting\.txt.' "the removed object is gone" cmk resource get r1 greeting.txt

# tampering with object files
f=$(ls -S "$T/res/r1/objects" | head -n 1)   # the 300 KB object
cp "$T/res/r1/objects/$f" "$T/saved"
flip_byte "$T/res/r1/objects/$f" -5
expect_fail_msg 14 'resource r1: object file [0-9a-f]{32}: envelope frame 5 does not authenticate \(modified, reordered, duplicated or from another message\)' "a modified object file is refused" cmk resource get r1 "dir/secret report.bin" --out "$T/t.out"
no_file "$T/t.out" "and nothing is written"
cp "$T/saved" "$T/res/r1/objects/$f"
# swapping two object files is detected (each is bound to its id)
g=$(ls "$T/res/r1/objects" | grep -v "$f" | head -n 1)
cp "$T/res/r1/objects/$g" "$T/res/r1/objects/$f.swap"
mv "$T/res/r1/objects/$f" "$T/res/r1/objects/$g.tmp"
mv "$T/res/r1/objects/$f.swap" "$T/res/r1/objects/$f"
expect_fail_msg 14 'resource r1: object file [0-9a-f]{32}: encryption context does not match: the value of .cmk-object. differs' "an object file copied under another object's name is refused" cmk resource list r1
mv "$T/res/r1/objects/$g.tmp" "$T/res/r1/objects/$f"
ok "everything opens once restored" cmk resource list r1

# --dir, and a resource in another directory
ok "create in --dir" cmk resource create r2 --dir "$T/other"
[ -f "$T/other/r2/resource.json" ] && pass "--dir is used" || fail "--dir is used"
ok "put with --dir" cmk resource put r2 x --dir "$T/other" --in "$T/small"
# what a killed `resource create` leaves (a directory without a state file,
# and its service key made already) is no resource, and the next create of
# that name takes it over (src/lib/resource/objects.c)
mkdir -p "$T/res/lo/objects"
expect_fail_msg 4 "resource lo does not exist" "a directory without a state file is no resource" cmk resource get lo x
ok "resource create takes over the leftover directory" cmk resource create lo
echo hello | cmk resource put lo greeting >/dev/null 2>&1
run cmk resource get lo greeting
is "$(cat "$OUT")" hello "and the resource works"
# killed inside the state's first save: its temporary file is left beside
# the objects directory (src/lib/resource/store.c res_write_atomic)
mkdir -p "$T/res/lo2/objects"
echo '{"partial' >"$T/res/lo2/.tmp-resource.json-Ab12Cd"
expect_fail_msg 4 "resource lo2 does not exist" "a directory with only a temporary state file is no resource" \
	cmk resource get lo2 x
ok "resource create takes it over too" cmk resource create lo2
is "$(ls -A "$T/res/lo2" | tr '\n' ' ')" "objects resource.json " "and the temporary file is gone"

done_testing
