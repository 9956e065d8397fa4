/*
 * p11-probe.c - look at a token from below cmk, for the tests of what a
 * PKCS#11 implementation does (tests/nss-vault.sh): how cmk's records are
 * stored, the attributes of a private key, and whether the token itself
 * refuses a decryption.  Test tool only: the PIN comes from a file.
 *
 *   p11-probe MODULE INIT_RESERVED|- TOKEN PINFILE info
 *       "model M max_sessions N max_rw_sessions N"
 *   ... records
 *       one line per cmk record: "data APP" (CKO_DATA) or
 *       "key APP usage=U sensitive=S extractable=E" (secret-key carrier,
 *       U = number of usage flags set)
 *   ... privkey IDHEX
 *       "sensitive=S extractable=E never_extractable=N decrypt=D unwrap=U sign=G"
 *       over every copy of the version (CKA_ID starting with IDHEX): S and
 *       N when all copies have it, E, D, U, G when any has it
 *   ... decrypt IDHEX SHA1|SHA256 INFILE
 *       C_Decrypt with RSA-OAEP on the token: "ok HEX" or "err CKR_NAME"
 *   ... privkeys
 *       every private key: "IDHEX decrypt=D unwrap=U sign=G"
 *   ... decrypt-all IDPREFIX SHA1|SHA256 INFILE
 *       C_Decrypt with every private key whose CKA_ID starts with IDPREFIX
 *       (all copies of a version): "ok HEX" for the first that decrypts,
 *       else "refused N" (N copies tried)
 *   ... secret LABEL
 *       the usages of the secret key LABEL: "encrypt=E decrypt=D wrap=W
 *       unwrap=U sign=S verify=V derive=R"
 */
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *fn;
static CK_SESSION_HANDLE sh;

static void die(const char *what, CK_RV rv)
{
	fprintf(stderr, "p11-probe: %s: %s\n", what, p11_kit_strerror(rv));
	exit(1);
}

static const char *rv_name(CK_RV rv)
{
	switch (rv) {
	case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
	case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
	case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
	default: return "CKR_OTHER";
	}
}

static size_t unhex(const char *s, CK_BYTE *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		sscanf(s + 2 * i, "%2x", &b);
		out[i] = (CK_BYTE)b;
	}
	return n;
}

static CK_ULONG find(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG cap)
{
	CK_ULONG got = 0;
	CK_RV rv = fn->C_FindObjectsInit(sh, t, n);
	if (rv != CKR_OK)
		die("C_FindObjectsInit", rv);
	rv = fn->C_FindObjects(sh, out, cap, &got);
	fn->C_FindObjectsFinal(sh);
	if (rv != CKR_OK)
		die("C_FindObjects", rv);
	return got;
}

static int get_bool(CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof b };
	return fn->C_GetAttributeValue(sh, o, &a, 1) == CKR_OK && b == CK_TRUE;
}

/* CKA_APPLICATION starting with "cmk/", or "" */
static void get_app(CK_OBJECT_HANDLE o, char *app, size_t cap)
{
	CK_ATTRIBUTE a = { CKA_APPLICATION, app, cap - 1 };
	app[0] = '\0';
	if (fn->C_GetAttributeValue(sh, o, &a, 1) == CKR_OK && a.ulValueLen < cap)
		app[a.ulValueLen] = '\0';
	else
		app[0] = '\0';
	if (strncmp(app, "cmk/", 4) != 0)
		app[0] = '\0';
}

static void records(void)
{
	static CK_OBJECT_HANDLE h[4096];
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_CLASS cls[] = { CKO_DATA, CKO_SECRET_KEY };
	for (int c = 0; c < 2; c++) {
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls[c], sizeof cls[c] },
				     { CKA_TOKEN, &yes, sizeof yes } };
		CK_ULONG n = find(t, 2, h, 4096);
		for (CK_ULONG i = 0; i < n; i++) {
			char app[256];
			get_app(h[i], app, sizeof app);
			if (!app[0])
				continue;
			if (c == 0) {
				printf("data %s\n", app);
				continue;
			}
			static const CK_ATTRIBUTE_TYPE use[] = { CKA_ENCRYPT, CKA_DECRYPT,
								 CKA_SIGN,    CKA_VERIFY,
								 CKA_WRAP,    CKA_UNWRAP,
								 CKA_DERIVE };
			int u = 0;
			for (size_t k = 0; k < sizeof use / sizeof use[0]; k++)
				u += get_bool(h[i], use[k]);
			printf("key %s usage=%d sensitive=%d extractable=%d\n", app, u,
			       get_bool(h[i], CKA_SENSITIVE), get_bool(h[i], CKA_EXTRACTABLE));
		}
	}
}

static CK_OBJECT_HANDLE privkey(const char *idhex)
{
	CK_BYTE id[64];
	size_t idlen = unhex(idhex, id, sizeof id);
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_ID, id, idlen } };
	CK_OBJECT_HANDLE h;
	if (find(t, 2, &h, 1) != 1) {
		fprintf(stderr, "p11-probe: no private key with id %s\n", idhex);
		exit(1);
	}
	return h;
}

static void decrypt(const char *idhex, const char *hash, const char *file)
{
	CK_OBJECT_HANDLE k = privkey(idhex);
	CK_BYTE in[1024], out[1024];
	FILE *f = fopen(file, "rb");
	size_t inlen = f ? fread(in, 1, sizeof in, f) : 0;
	if (f)
		fclose(f);
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	int sha1 = strcmp(hash, "SHA1") == 0;
	p.hashAlg = sha1 ? CKM_SHA_1 : CKM_SHA256;
	p.mgf = sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
	p.source = CKZ_DATA_SPECIFIED;
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	CK_ULONG outlen = sizeof out;
	CK_RV rv = fn->C_DecryptInit(sh, &m, k);
	if (rv == CKR_OK)
		rv = fn->C_Decrypt(sh, in, inlen, out, &outlen);
	if (rv != CKR_OK) {
		printf("err %s\n", rv_name(rv));
		return;
	}
	printf("ok ");
	for (CK_ULONG i = 0; i < outlen; i++)
		printf("%02x", out[i]);
	printf("\n");
}

static size_t get_id(CK_OBJECT_HANDLE o, char *hex, size_t cap)
{
	CK_BYTE id[128];
	CK_ATTRIBUTE a = { CKA_ID, id, sizeof id };
	hex[0] = '\0';
	if (fn->C_GetAttributeValue(sh, o, &a, 1) != CKR_OK || a.ulValueLen > sizeof id ||
	    2 * a.ulValueLen + 1 > cap)
		return 0;
	for (CK_ULONG i = 0; i < a.ulValueLen; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	return a.ulValueLen;
}

static CK_ULONG all_privkeys(CK_OBJECT_HANDLE *h, CK_ULONG cap)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls } };
	return find(t, 1, h, cap);
}

static void privkeys(void)
{
	static CK_OBJECT_HANDLE h[4096];
	CK_ULONG n = all_privkeys(h, 4096);
	for (CK_ULONG i = 0; i < n; i++) {
		char hex[260];
		get_id(h[i], hex, sizeof hex);
		printf("%s decrypt=%d unwrap=%d sign=%d\n", hex[0] ? hex : "-",
		       get_bool(h[i], CKA_DECRYPT), get_bool(h[i], CKA_UNWRAP),
		       get_bool(h[i], CKA_SIGN));
	}
}

static CK_RV oaep_decrypt(CK_OBJECT_HANDLE k, const char *hash, const CK_BYTE *in, CK_ULONG inlen,
			  CK_BYTE *out, CK_ULONG *outlen)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	memset(&p, 0, sizeof p);
	int sha1 = strcmp(hash, "SHA1") == 0;
	p.hashAlg = sha1 ? CKM_SHA_1 : CKM_SHA256;
	p.mgf = sha1 ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256;
	p.source = CKZ_DATA_SPECIFIED;
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof p };
	CK_RV rv = fn->C_DecryptInit(sh, &m, k);
	if (rv == CKR_OK)
		rv = fn->C_Decrypt(sh, (CK_BYTE_PTR)in, inlen, out, outlen);
	return rv;
}

static void decrypt_all(const char *prefix, const char *hash, const char *file)
{
	static CK_OBJECT_HANDLE h[4096];
	CK_BYTE in[1024], out[1024];
	FILE *f = fopen(file, "rb");
	size_t inlen = f ? fread(in, 1, sizeof in, f) : 0;
	if (f)
		fclose(f);
	CK_ULONG n = all_privkeys(h, 4096), tried = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		char hex[260];
		get_id(h[i], hex, sizeof hex);
		if (strncmp(hex, prefix, strlen(prefix)) != 0)
			continue;
		tried++;
		CK_ULONG outlen = sizeof out;
		if (oaep_decrypt(h[i], hash, in, inlen, out, &outlen) == CKR_OK) {
			printf("ok ");
			for (CK_ULONG j = 0; j < outlen; j++)
				printf("%02x", out[j]);
			printf("\n");
			return;
		}
	}
	printf("refused %lu\n", (unsigned long)tried);
}

static void privkey_all(const char *prefix)
{
	static CK_OBJECT_HANDLE h[4096];
	CK_ULONG n = all_privkeys(h, 4096), found = 0;
	int sens = 1, ext = 0, never = 1, dec = 0, unw = 0, sig = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		char hex[260];
		get_id(h[i], hex, sizeof hex);
		if (strncmp(hex, prefix, strlen(prefix)) != 0)
			continue;
		found++;
		sens &= get_bool(h[i], CKA_SENSITIVE);
		ext |= get_bool(h[i], CKA_EXTRACTABLE);
		never &= get_bool(h[i], CKA_NEVER_EXTRACTABLE);
		dec |= get_bool(h[i], CKA_DECRYPT);
		unw |= get_bool(h[i], CKA_UNWRAP);
		sig |= get_bool(h[i], CKA_SIGN);
	}
	if (!found) {
		fprintf(stderr, "p11-probe: no private key with id %s\n", prefix);
		exit(1);
	}
	printf("sensitive=%d extractable=%d never_extractable=%d decrypt=%d unwrap=%d sign=%d\n",
	       sens, ext, never, dec, unw, sig);
}

static void secret(const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof cls },
			     { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE h;
	if (find(t, 2, &h, 1) != 1) {
		fprintf(stderr, "p11-probe: no secret key '%s'\n", label);
		exit(1);
	}
	printf("encrypt=%d decrypt=%d wrap=%d unwrap=%d sign=%d verify=%d derive=%d\n",
	       get_bool(h, CKA_ENCRYPT), get_bool(h, CKA_DECRYPT), get_bool(h, CKA_WRAP),
	       get_bool(h, CKA_UNWRAP), get_bool(h, CKA_SIGN), get_bool(h, CKA_VERIFY),
	       get_bool(h, CKA_DERIVE));
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr,
			"usage: p11-probe MODULE INIT_RESERVED|- TOKEN PINFILE COMMAND [ARGS]\n");
		return 2;
	}
	fn = p11_kit_module_load(argv[1], P11_KIT_MODULE_UNMANAGED);
	if (!fn) {
		fprintf(stderr, "p11-probe: cannot load %s\n", argv[1]);
		return 1;
	}
	CK_C_INITIALIZE_ARGS ia;
	memset(&ia, 0, sizeof ia);
	ia.flags = CKF_OS_LOCKING_OK;
	ia.pReserved = strcmp(argv[2], "-") ? argv[2] : NULL;
	CK_RV rv = fn->C_Initialize(&ia);
	if (rv != CKR_OK)
		die("C_Initialize", rv);
	CK_SLOT_ID slots[16];
	CK_ULONG ns = 16;
	if ((rv = fn->C_GetSlotList(CK_TRUE, slots, &ns)) != CKR_OK)
		die("C_GetSlotList", rv);
	CK_TOKEN_INFO ti;
	CK_ULONG s;
	for (s = 0; s < ns; s++) {
		char label[33];
		if (fn->C_GetTokenInfo(slots[s], &ti) != CKR_OK)
			continue;
		memcpy(label, ti.label, 32);
		label[32] = '\0';
		for (int i = 31; i >= 0 && label[i] == ' '; i--)
			label[i] = '\0';
		if (strcmp(label, argv[3]) == 0)
			break;
	}
	if (s == ns) {
		fprintf(stderr, "p11-probe: no token '%s'\n", argv[3]);
		return 1;
	}
	if ((rv = fn->C_OpenSession(slots[s], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				    &sh)) != CKR_OK)
		die("C_OpenSession", rv);
	char pin[256] = "";
	FILE *pf = fopen(argv[4], "r");
	if (!pf || !fgets(pin, sizeof pin, pf)) {
		fprintf(stderr, "p11-probe: cannot read %s\n", argv[4]);
		return 1;
	}
	fclose(pf);
	pin[strcspn(pin, "\r\n")] = '\0';
	if ((rv = fn->C_Login(sh, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin))) != CKR_OK &&
	    rv != CKR_USER_ALREADY_LOGGED_IN)
		die("C_Login", rv);
	if (strcmp(argv[5], "info") == 0)
		printf("model %.16s max_sessions %lu max_rw_sessions %lu\n", (char *)ti.model,
		       (unsigned long)ti.ulMaxSessionCount, (unsigned long)ti.ulMaxRwSessionCount);
	else if (strcmp(argv[5], "records") == 0)
		records();
	else if (strcmp(argv[5], "privkey") == 0 && argc == 7) {
		privkey_all(argv[6]);
	} else if (strcmp(argv[5], "decrypt") == 0 && argc == 9)
		decrypt(argv[6], argv[7], argv[8]);
	else if (strcmp(argv[5], "privkeys") == 0)
		privkeys();
	else if (strcmp(argv[5], "decrypt-all") == 0 && argc == 9)
		decrypt_all(argv[6], argv[7], argv[8]);
	else if (strcmp(argv[5], "secret") == 0 && argc == 7)
		secret(argv[6]);
	else {
		fprintf(stderr, "p11-probe: unknown command %s\n", argv[5]);
		return 2;
	}
	fn->C_Logout(sh);
	fn->C_CloseSession(sh);
	fn->C_Finalize(NULL);
	p11_kit_module_release(fn);
	return 0;
}
