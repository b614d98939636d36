/* libFuzzer target for the REST API's request handling (src/api): each input is
 * one request body (the first byte picks the route) run through the same JSON
 * parsing, validation and handlers a socket request goes through, via
 * api_request_fuzz(), which keeps a throw-away database in a temp dir for the
 * life of the process. A crash, a sanitizer report or an error answer without
 * the documented error shape (api_request_fuzz aborts) is the finding. */
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return api_request_fuzz(data, size);
}
