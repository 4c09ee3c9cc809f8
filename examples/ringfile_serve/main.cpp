// ringfile-serve: a static file server on ringfile. N threads, each with its own
// SO_REUSEPORT listening socket, epoll loop and Engine; the Engine's event_fd()
// sits in the epoll set beside the sockets, files open beneath ROOT only, and
// bodies go out with File::send_to.

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../common.hpp"
#include "request_parser.hpp"
#include "response.hpp"
#include "worker.hpp"

namespace {

using serve::Config;
using serve::Worker;

struct Options {
  Config config;
  std::string listen = "127.0.0.1:8080";
  std::string user;
  std::string access_log;  // "-": stdout
  std::string error_log = "stderr";
  std::string mime_types = "/etc/mime.types";
  bool mime_types_given = false;  // --mime-types: a file that must be there
  unsigned threads = 0;
};

constexpr char kUsage[] =
    "usage: ringfile-serve [--listen [HOST:]PORT] [--threads N] [--engine io_uring|threadpool|auto]\n"
    "                      [--access-log FILE] [--error-log FILE] [--header-timeout MS] [--idle-timeout MS]\n"
    "                      [--shutdown-timeout MS] [--max-connections N] [--user NAME]\n"
    "                      [--mime-types FILE] ROOT\n"
    "       ringfile-serve --help | --version\n"
    "--listen: ADDR:PORT, [V6ADDR]:PORT, HOSTNAME:PORT (its first address), :PORT or PORT\n"
    "          (every IPv4 address); 127.0.0.1:8080 by default. A port another process\n"
    "          listens on is an error.\n"
    "--access-log: nginx's combined format to FILE (- for stdout); none by default\n"
    "--error-log:  a line per refused or failed request, with the reason; stderr by default\n"
    "--user:   serve as NAME once the port is bound (the engines are made after the drop)\n"
    "--mime-types: Content-Type by extension, from FILE (/etc/mime.types when present);\n"
    "          a built-in table of common types answers what it lacks\n";

int usage() {
  std::fputs(kUsage, stderr);
  return 2;
}

bool parse_unsigned(std::string_view text, unsigned& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_ms(std::string_view text, std::chrono::milliseconds& out) {
  unsigned ms = 0;
  if (!parse_unsigned(text, ms) || ms == 0) return false;
  out = std::chrono::milliseconds(ms);
  return true;
}

// "ADDR:PORT", "[V6ADDR]:PORT", "HOSTNAME:PORT", ":PORT" or "PORT" (every IPv4
// address). A name gives its first IPv4 address, or its first address if it has
// none: clients that resolve "localhost" try 127.0.0.1 too.
bool parse_listen(const std::string& text, sockaddr_storage& out, socklen_t& size) {
  const std::size_t colon = text.rfind(':');
  std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  const std::string port = colon == std::string::npos ? text : text.substr(colon + 1);
  unsigned number = 0;
  if (!parse_unsigned(port, number) || number > 65535) return false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return false;
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  std::memcpy(&out, pick->ai_addr, pick->ai_addrlen);
  size = pick->ai_addrlen;
  ::freeaddrinfo(found);
  return true;
}

std::string to_string(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    // Appended in order: GCC 12 at -O3 misreads `"[" + std::string` as an overlapping copy.
    std::string text = "[";
    text += host;
    text += "]:";
    text += std::to_string(ntohs(a.sin6_port));
    return text;
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(address);
  ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
}

// A non-blocking SO_REUSEPORT socket listening on `address`; port 0 is filled in
// with the port the kernel picked, so that the next sockets join it.
int listen_on(sockaddr_storage& address, socklen_t size) {
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd, SOMAXCONN) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

// The port must be free: the server's threads share it through SO_REUSEPORT,
// which would as readily let a second server (of the same user) join and take
// part of the traffic. A bind without SO_REUSEPORT fails while anyone listens on
// the port. Port 0 is filled in with the port this bind got.
int claim_port(sockaddr_storage& address, socklen_t size) {
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // connections in TIME_WAIT hold nothing
  const int ret = ::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
                          ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0
                      ? 0
                      : -1;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ret;
}

// As nginx's workers do: bind as root, then serve as `name`.
std::string drop_privileges(const std::string& name) {
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return "--user " + name + ": " + (errno ? std::strerror(errno) : "no such user");
  if (::initgroups(name.c_str(), pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) {
    return "--user " + name + ": " + std::strerror(errno);
  }
  return {};
}

// Descriptors are the connection cap's currency: take the hard limit.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool root_seen = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    // Every option takes "--name VALUE" or "--name=VALUE".
    auto value_of = [&](std::string_view name, std::string_view& value) {
      if (example::option(arg, name, value)) return true;
      if (arg.substr(0, 2) != "--" || arg.substr(2) != name || i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    std::string_view value;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("ringfile-serve %s\n", RINGFILE_VERSION);
      return 0;
    } else if (value_of("listen", value)) {
      o.listen = value;
    } else if (value_of("threads", value)) {
      if (!parse_unsigned(value, o.threads) || o.threads == 0) return usage();
    } else if (value_of("engine", value)) {
      if (!example::parse_backend(value, o.config.backend)) return usage();
    } else if (value_of("header-timeout", value)) {
      if (!parse_ms(value, o.config.header_timeout)) return usage();
    } else if (value_of("idle-timeout", value)) {
      if (!parse_ms(value, o.config.idle_timeout)) return usage();
    } else if (value_of("shutdown-timeout", value)) {
      if (!parse_ms(value, o.config.shutdown_timeout)) return usage();
    } else if (value_of("max-connections", value)) {
      if (!parse_unsigned(value, o.config.max_connections) || o.config.max_connections == 0) return usage();
    } else if (value_of("mime-types", value)) {
      o.mime_types = value;
      o.mime_types_given = true;
    } else if (value_of("user", value)) {
      if (value.empty()) return usage();
      o.user = value;
    } else if (value_of("access-log", value)) {
      if (value.empty()) return usage();
      o.access_log = value;
    } else if (value_of("error-log", value)) {
      if (value.empty()) return usage();
      o.error_log = value;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return usage();
    } else if (!root_seen) {
      o.config.root = arg;
      root_seen = true;
    } else {
      return usage();
    }
  }
  if (!root_seen) return usage();
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());

  sockaddr_storage address{};
  socklen_t address_size = 0;
  if (!parse_listen(o.listen, address, address_size)) {
    std::fprintf(stderr, "ringfile-serve: --listen %s: expected [HOST:]PORT\n", o.listen.c_str());
    return 2;
  }
  if (claim_port(address, address_size) != 0) {
    std::fprintf(stderr, "ringfile-serve: listen on %s: %s\n", o.listen.c_str(), std::strerror(errno));
    return 1;
  }
  if (!serve::load_mime_types(o.mime_types) && o.mime_types_given) {
    std::fprintf(stderr, "ringfile-serve: --mime-types %s: %s\n", o.mime_types.c_str(), std::strerror(errno));
    return 1;
  }
  raise_descriptor_limit();
  serve::RequestParser::set_limits();

  // Signals go to the main thread only, which asks each worker to finish.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::atomic<unsigned> connections{0};
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < o.threads; ++i) {
    const int fd = listen_on(address, address_size);
    if (fd < 0) {
      std::fprintf(stderr, "ringfile-serve: listen on %s: %s\n", o.listen.c_str(), std::strerror(errno));
      return 1;
    }
    workers.push_back(std::make_unique<Worker>(o.config, fd, connections));
  }
  // Opened before the privileges go, as nginx opens its logs.
  for (auto [path, fd] : {std::pair{&o.access_log, &o.config.access_log_fd}, std::pair{&o.error_log, &o.config.error_log_fd}}) {
    if (path->empty()) continue;
    *fd = serve::LogFile::open_descriptor(*path);
    if (*fd < 0) {
      std::fprintf(stderr, "ringfile-serve: %s: %s\n", path->c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (!o.user.empty()) {
    if (std::string error = drop_privileges(o.user); !error.empty()) {
      std::fprintf(stderr, "ringfile-serve: %s\n", error.c_str());
      return 1;
    }
  }

  // Each worker makes its engine on its own thread (an Engine belongs to the
  // thread that created it) and reports; they serve only once the first line is
  // out, so that no access-log line comes before it.
  std::vector<std::string> errors(o.threads);
  std::atomic<unsigned> started{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < o.threads; ++i) {
    threads.emplace_back([&, i] {
      errors[i] = workers[i]->start();
      if (!errors[i].empty()) failed = true;
      started.fetch_add(1);
      started.notify_one();
      go.wait(false);
      if (errors[i].empty() && !failed && !workers[i]->run()) {
        failed = true;
        ::kill(::getpid(), SIGTERM);  // wakes the main thread's sigwait
      }
      workers[i]->release_engine();
    });
  }
  for (unsigned n = started.load(); n < o.threads; n = started.load()) started.wait(n);
  int status = 0;
  if (failed) {
    for (const auto& e : errors) {
      if (!e.empty()) std::fprintf(stderr, "ringfile-serve: %s\n", e.c_str());
    }
    status = 1;
  } else {
    std::printf("listening on %s\n", to_string(address).c_str());
    std::fflush(stdout);
    std::fprintf(stderr, "ringfile-serve: %u thread(s), engine: %s\n", o.threads,
                 workers[0]->describe_engine().c_str());
  }
  go = true;
  go.notify_all();
  if (status == 0) {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
  }
  for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  return failed ? 1 : status;
}
