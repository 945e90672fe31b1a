/* The libFuzzer entry point every target in tests/fuzz defines. */
#ifndef VQNET_FUZZ_H
#define VQNET_FUZZ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input, consumed a big-endian number at a time; past its end every
 * number is 0, so a short input is still a whole run. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline unsigned fuzz_take(struct fuzz_input *in, unsigned bytes)
{
	unsigned v = 0;
	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v = v << 8 | *in->p++;
	return v;
}

/* An invariant whose breach is the finding. */
static inline void fuzz_check(bool ok)
{
	if (!ok)
		abort();
}
#endif
