#pragma once

// The library is built with -fvisibility=hidden; only what carries RINGFILE_API
// is part of the ABI of libringfile.so.
#if defined(RINGFILE_STATIC)
#define RINGFILE_API
#elif defined(RINGFILE_BUILDING)
#define RINGFILE_API __attribute__((visibility("default")))
#else
#define RINGFILE_API
#endif
