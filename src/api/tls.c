/* The HTTPS certificate: the configured files, or the self-signed pair of
 * DATA_DIR/tls/ (core/tlsfiles.h), read into memory for libmicrohttpd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "core/log.h"
#include "core/tlsfiles.h"

int api_tls_load(const char *data_dir, const char *cert_file, const char *key_file, char **cert_pem,
		 char **key_pem)
{
	char cert_path[TLS_PATH_MAX], key_path[TLS_PATH_MAX];
	int e = tls_files_resolve(data_dir, cert_file, key_file, cert_path, key_path);
	if (e == EINVAL)
		log_error("api: --http-tls-cert and --http-tls-key go together");
	if (e)
		return e;
	e = tls_file_read(cert_path, cert_pem);
	if (e) {
		log_error("api: cannot read %s: %s", cert_path, strerror(e));
		return e;
	}
	e = tls_file_read(key_path, key_pem);
	if (e) {
		log_error("api: cannot read %s: %s", key_path, strerror(e));
		free(*cert_pem);
		*cert_pem = NULL;
	}
	return e;
}
