/*
 * store.c - a resource's directory: DIR/NAME/resource.json (the state,
 * replaced atomically), DIR/NAME/objects/ (one file per object) and
 * DIR/NAME/.lock (flock, held while the state changes).
 */
#include "config.h"
#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "resource/resource.h"
#include "util/err.h"

#define STATE_MAX (256 * 1024)

static cmk_rc mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
		*p = '/';
		if (bad)
			return cmk_err(CMK_E_IO, "cannot make directory %.*s: %s", (int)(p - path),
				       path, strerror(errno));
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return cmk_err(CMK_E_IO, "cannot make directory %s: %s", path, strerror(errno));
	return CMK_OK;
}

cmk_rc res_base_dir(const char *dir, char *out, size_t len)
{
	const char *e;
	int n;
	if (dir && *dir)
		n = snprintf(out, len, "%s", dir);
	else if ((e = getenv("CMK_RESOURCE_DIR")) && *e)
		n = snprintf(out, len, "%s", e);
	else if ((e = getenv("XDG_DATA_HOME")) && *e)
		n = snprintf(out, len, "%s/cmk/resources", e);
	else if ((e = getenv("HOME")) && *e)
		n = snprintf(out, len, "%s/.local/share/cmk/resources", e);
	else
		return cmk_err(CMK_E_CONFIG, "no directory for resources: set "
					     "CMK_RESOURCE_DIR (or HOME)");
	if (n < 0 || (size_t)n >= len - CMK_RESOURCE_NAME_MAX - 64)
		return cmk_err(CMK_E_USAGE, "resource directory path is too long");
	return mkdirs(out);
}

cmk_rc res_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n >= CMK_RESOURCE_NAME_MAX)
		return cmk_err(CMK_E_USAGE,
			       "resource name must be 1-%d "
			       "characters",
			       CMK_RESOURCE_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return cmk_err(CMK_E_USAGE,
				       "resource name '%.64s' may only "
				       "hold A-Z a-z 0-9 and '-'",
				       name);
	}
	return CMK_OK;
}

cmk_rc res_read_file(const char *path, size_t max, uint8_t **p, size_t *len)
{
	return res_read_head(path, max, SIZE_MAX, p, len, NULL);
}

cmk_rc res_read_head(const char *path, size_t max, size_t head, uint8_t **p, size_t *len,
		     size_t *total)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return cmk_err(errno == ENOENT ? CMK_E_NOT_FOUND : CMK_E_IO, "cannot read %s: %s",
			       path, strerror(errno));
	if (fstat(fd, &st) != 0 || (size_t)st.st_size > max) {
		close(fd);
		return cmk_err(CMK_E_TOO_LARGE, "%s is larger than %zu bytes", path, max);
	}
	size_t n = (size_t)st.st_size, got = 0;
	if (total)
		*total = n;
	if (n > head)
		n = head;
	uint8_t *b = malloc(n ? n : 1);
	if (!b) {
		close(fd);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			close(fd);
			return cmk_err(CMK_E_IO, "cannot read %s: %s", path,
				       r < 0 ? strerror(errno) : "file shrank");
		}
		got += (size_t)r;
	}
	close(fd);
	*p = b;
	*len = n;
	return CMK_OK;
}

void res_remove_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".tmp-", 5))
			(void)unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

cmk_rc res_write_atomic(const char *dir, const char *name, const uint8_t *p, size_t len, int mode)
{
	char tmp[4200], dst[4200];
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s-XXXXXX", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return cmk_err(CMK_E_IO, "cannot create a file in %s: %s", dir, strerror(errno));
	(void)fchmod(fd, (mode_t)mode);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	int e = errno;
	if (off < len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, dst) != 0) {
		if (off >= len)
			e = errno;
		unlink(tmp);
		return cmk_err(CMK_E_IO, "cannot write %s: %s", dst, strerror(e));
	}
	/* Make the rename durable. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return CMK_OK;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static int copy(char *dst, size_t len, const char *s)
{
	if (!s || strlen(s) >= len)
		return 0;
	memcpy(dst, s, strlen(s) + 1);
	return 1;
}

cmk_rc res_state_load(const char *dir, res_state *st)
{
	char path[4200];
	uint8_t *b;
	size_t n;
	memset(st, 0, sizeof *st);
	snprintf(path, sizeof path, "%s/resource.json", dir);
	cmk_rc rc = res_read_file(path, STATE_MAX, &b, &n);
	if (rc != CMK_OK)
		return rc == CMK_E_NOT_FOUND ? cmk_err(rc, "no resource at %s", dir) : rc;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (char *)b, (int)n) : NULL;
	json_tokener_free(tok);
	free(b);
	json_object *v;
	const char *ring = o ? jstr(o, "keyring") : NULL;
	int ok = o && json_object_object_get_ex(o, "format", &v) &&
		 json_object_get_int(v) == RES_FORMAT &&
		 copy(st->name, sizeof st->name, jstr(o, "name")) &&
		 copy(st->vault, sizeof st->vault, jstr(o, "vault")) &&
		 copy(st->root_id, sizeof st->root_id, jstr(o, "root_id")) &&
		 strlen(st->root_id) == 2 * RES_ROOTID_LEN &&
		 copy(st->service_kid, sizeof st->service_kid, jstr(o, "service_kid")) && ring;
	if (ok) {
		copy(st->customer_key, sizeof st->customer_key, jstr(o, "customer_key"));
		copy(st->customer_kid, sizeof st->customer_kid, jstr(o, "customer_kid"));
		copy(st->cmk_vault, sizeof st->cmk_vault, jstr(o, "cmk_vault"));
		if (json_object_object_get_ex(o, "created", &v))
			st->created = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "rewrapped", &v))
			st->rewrapped = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "svc_retire", &v))
			st->svc_retire = json_object_get_boolean(v);
		copy(st->identity, sizeof st->identity, jstr(o, "identity"));
		if (json_object_object_get_ex(o, "key_management", &v))
			st->key_fixed = strcmp(json_object_get_string(v), "fixed") == 0;
		if (json_object_object_get_ex(o, "deleted_on", &v))
			st->deleted_on = json_object_get_int64(v);
		if (json_object_object_get_ex(o, "purge_on", &v))
			st->purge_on = json_object_get_int64(v);
		size_t rl = strlen(ring);
		st->keyring = malloc(rl / 4 * 3 + 3);
		int dl = st->keyring ? EVP_DecodeBlock(st->keyring, (const uint8_t *)ring, (int)rl)
				     : -1;
		ok = dl > 0 && rl % 4 == 0;
		if (ok) {
			/* EVP_DecodeBlock counts the padding as zero bytes. */
			st->keyring_len = (size_t)dl - (rl && ring[rl - 1] == '=') -
					  (rl > 1 && ring[rl - 2] == '=');
		}
	}
	json_object_put(o);
	if (!ok) {
		res_state_clear(st);
		return cmk_err(CMK_E_FORMAT,
			       "%s is not a valid resource state "
			       "(resource.json malformed)",
			       dir);
	}
	return CMK_OK;
}

cmk_rc res_state_save(const char *dir, const res_state *st)
{
	json_object *o = json_object_new_object();
	char *ring = malloc(4 * ((st->keyring_len + 2) / 3) + 1);
	if (!o || !ring) {
		json_object_put(o);
		free(ring);
		return cmk_err(CMK_E_NOMEM, "out of memory");
	}
	EVP_EncodeBlock((uint8_t *)ring, st->keyring, (int)st->keyring_len);
	json_object_object_add(o, "format", json_object_new_int(RES_FORMAT));
	json_object_object_add(o, "name", json_object_new_string(st->name));
	json_object_object_add(o, "vault", json_object_new_string(st->vault));
	json_object_object_add(o, "root_id", json_object_new_string(st->root_id));
	json_object_object_add(o, "service_kid", json_object_new_string(st->service_kid));
	json_object_object_add(o, "customer_key", json_object_new_string(st->customer_key));
	json_object_object_add(o, "customer_kid", json_object_new_string(st->customer_kid));
	json_object_object_add(o, "cmk_vault", json_object_new_string(st->cmk_vault));
	json_object_object_add(o, "created", json_object_new_int64(st->created));
	json_object_object_add(o, "rewrapped", json_object_new_int64(st->rewrapped));
	if (st->svc_retire)
		json_object_object_add(o, "svc_retire", json_object_new_boolean(1));
	if (st->identity[0])
		json_object_object_add(o, "identity", json_object_new_string(st->identity));
	json_object_object_add(o, "key_management",
			       json_object_new_string(st->key_fixed ? "fixed" : "switchable"));
	if (st->deleted_on) {
		json_object_object_add(o, "deleted_on", json_object_new_int64(st->deleted_on));
		json_object_object_add(o, "purge_on", json_object_new_int64(st->purge_on));
	}
	json_object_object_add(o, "keyring", json_object_new_string(ring));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	cmk_rc rc = res_write_atomic(dir, "resource.json", (const uint8_t *)s, strlen(s), 0600);
	json_object_put(o);
	free(ring);
	return rc;
}

void res_state_clear(res_state *st)
{
	free(st->keyring);
	memset(st, 0, sizeof *st);
}

cmk_rc res_lock(cmk_resource *r)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/.lock", r->dir);
	r->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lockfd < 0)
		return cmk_err(CMK_E_IO, "cannot open %s: %s", path, strerror(errno));
	while (flock(r->lockfd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(r->lockfd);
			r->lockfd = -1;
			return cmk_err(CMK_E_IO, "cannot lock %s: %s", path, strerror(errno));
		}
	/* Another process may have changed the state meanwhile. */
	res_state st;
	cmk_rc rc = res_state_load(r->dir, &st);
	if (rc != CMK_OK) {
		res_unlock(r);
		return rc;
	}
	res_state_clear(&r->st);
	r->st = st;
	return CMK_OK;
}

void res_unlock(cmk_resource *r)
{
	if (r->lockfd >= 0) {
		close(r->lockfd);
		r->lockfd = -1;
	}
}
