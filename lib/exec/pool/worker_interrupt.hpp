#pragma once

#include <pthread.h>

namespace ringfile::detail {

// Cancelling an op that is blocked in a syscall on a worker (a read from an empty
// pipe) interrupts it with a real-time signal whose handler does nothing,
// installed without SA_RESTART so the syscall returns EINTR. The signal is the
// first from SIGRTMIN+3 up that has no handler when the first pool starts: an
// application's own handler is never replaced. With every one taken, a cancelled
// op that is blocked finishes when its syscall does.
//
// Sends the signal to `thread` only while ringfile's handler is still the one
// installed (an application's handler must not run on a worker); false if not sent.
bool interrupt_worker(pthread_t thread);

// Masks every signal on the calling worker but that one: the others go to the
// application's threads.
void accept_only_worker_interrupt();

}  // namespace ringfile::detail
