#include "exec/pool/worker_interrupt.hpp"

#include <csignal>

namespace ringfile::detail {

namespace {

void ignore_cancel_signal(int) {}

int choose_cancel_signal() {
  for (int sig = SIGRTMIN + 3; sig <= SIGRTMAX; ++sig) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = ignore_cancel_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(sig, &sa, nullptr) == 0) return sig;
  }
  return 0;
}

int cancel_signal() {
  static const int sig = choose_cancel_signal();
  return sig;
}

}  // namespace

bool interrupt_worker(pthread_t thread) {
  const int sig = cancel_signal();
  if (sig == 0) return false;
  struct sigaction now {};
  if (sigaction(sig, nullptr, &now) != 0 || (now.sa_flags & SA_SIGINFO) || now.sa_handler != ignore_cancel_signal) {
    return false;
  }
  return pthread_kill(thread, sig) == 0;
}

void accept_only_worker_interrupt() {
  sigset_t all;
  sigfillset(&all);
  if (cancel_signal() != 0) sigdelset(&all, cancel_signal());
  pthread_sigmask(SIG_SETMASK, &all, nullptr);
}

}  // namespace ringfile::detail
