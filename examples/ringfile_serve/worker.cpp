#include "worker.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include <ringfile/op_timeout.hpp>

#include "target_path.hpp"
#include "validators.hpp"

namespace serve {

namespace {

using ringfile::File;
using ringfile::FileStat;
using ringfile::Result;

// epoll tags below any Connection address.
constexpr std::uint64_t kListenTag = 1, kEngineTag = 2, kTimerTag = 3, kWakeTag = 4;
// A hung filesystem in ROOT must not hold a connection for long.
constexpr auto kOpenTimeout = std::chrono::seconds(2);
// Bodies go out in pieces so that progress can be timed (Config::idle_timeout).
constexpr std::uint64_t kBodyChunk = 4u << 20;
constexpr unsigned kMaxEvents = 256;
constexpr std::string_view kTooMany =
    "HTTP/1.1 503 Service Unavailable\r\nServer: ringfile-serve\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What the error log says of a failed open.
std::string open_failure(std::error_code ec) {
  switch (ec.value()) {
    case EXDEV: return "escape attempt: a path or symlink out of the root (" + ec.message() + ")";
    case ELOOP: return "escape attempt: a magic link (" + ec.message() + ")";
    case EACCES: case EPERM: return "permission: " + ec.message();
    case ETIMEDOUT: return "timeout: the open took too long (" + ec.message() + ")";
    default: return "open: " + ec.message();
  }
}

int status_for_open_error(std::error_code ec) {
  switch (ec.value()) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
      return 404;
    case EACCES:
    case EPERM:
    case EXDEV:  // a path or symlink leading out of ROOT
    case ELOOP:  // a magic link
      return 403;
    case ETIMEDOUT:  // a hung filesystem
      return 503;
    default:
      return 500;
  }
}

void add_to_epoll(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    std::perror("ringfile-serve: epoll_ctl");
    std::abort();
  }
}

}  // namespace

Worker::Worker(const Config& config, int listen_fd, std::atomic<unsigned>& connections)
    : config_(config),
      listen_fd_(listen_fd),
      connections_(connections),
      header_timers_(config.header_timeout),
      idle_timers_(config.idle_timeout) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Worker::~Worker() {
  for (int fd : {epoll_fd_, timer_fd_, wake_fd_, listen_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

std::string Worker::start() {
  if (wake_fd_ < 0) return std::string("eventfd: ") + std::strerror(errno);
  ringfile::EngineOptions options;
  options.backend = config_.backend;
  auto engine = ringfile::Engine::create(options);
  if (!engine) return "no engine: " + engine.error().message();
  engine_.emplace(std::move(*engine));
  if (config_.access_log_fd >= 0) {
    if (std::string error = access_log_.open(*engine_, config_.access_log_fd); !error.empty()) return error;
  }
  if (config_.error_log_fd >= 0) {
    if (std::string error = error_log_.open(*engine_, config_.error_log_fd); !error.empty()) return error;
  }
  std::optional<Result<ringfile::Dir>> root;
  ringfile::Dir::open(*engine_, config_.root, [&](Result<ringfile::Dir> d) { root.emplace(std::move(d)); });
  while (!root) (void)engine_->wait();
  if (!*root) return config_.root + ": " + root->error().message();
  root_ = std::move(**root);

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (epoll_fd_ < 0 || timer_fd_ < 0) return std::string("epoll/timerfd: ") + std::strerror(errno);
  // Timeouts are checked on a tick: a quarter of the shortest one, within [10 ms, 1 s].
  const auto shortest = std::min(config_.header_timeout, config_.idle_timeout);
  const auto tick = std::clamp<std::chrono::milliseconds>(shortest / 4, std::chrono::milliseconds(10),
                                                          std::chrono::milliseconds(1000));
  itimerspec spec{};
  spec.it_interval.tv_sec = tick.count() / 1000;
  spec.it_interval.tv_nsec = (tick.count() % 1000) * 1'000'000;
  spec.it_value = spec.it_interval;
  ::timerfd_settime(timer_fd_, 0, &spec, nullptr);

  add_to_epoll(epoll_fd_, listen_fd_, EPOLLIN, kListenTag);
  add_to_epoll(epoll_fd_, engine_->event_fd(), EPOLLIN, kEngineTag);
  add_to_epoll(epoll_fd_, timer_fd_, EPOLLIN, kTimerTag);
  add_to_epoll(epoll_fd_, wake_fd_, EPOLLIN, kWakeTag);
  now_ms_ = steady_ms();
  return {};
}

void Worker::release_engine() {
  if (engine_) {  // what the logs hold goes out, within the shutdown timeout
    const std::int64_t until = steady_ms() + config_.shutdown_timeout.count();
    for (;;) {
      access_log_.flush();
      error_log_.flush();
      if ((access_log_.idle() && error_log_.idle()) || steady_ms() >= until) break;
      (void)engine_->wait(std::chrono::milliseconds(10));
    }
  }
  access_log_.close();
  error_log_.close();
  for (auto& c : all_) c->file = File();
  root_ = ringfile::Dir();
  engine_.reset();
}

std::string Worker::describe_engine() const { return engine_ ? engine_->describe() : std::string(); }

void Worker::stop() {
  const std::uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

bool Worker::run() {
  epoll_event events[kMaxEvents];
  while (!done()) {
    const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;  // io_uring task work interrupts waits
      std::perror("ringfile-serve: epoll_wait");
      return false;
    }
    now_ms_ = steady_ms();
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u64) {
        case kListenTag: accept_all(); break;
        case kEngineTag: (void)engine_->poll(); break;
        case kTimerTag: tick(); break;
        case kWakeTag: begin_drain(); break;
        default: on_event(*static_cast<Connection*>(events[i].data.ptr), events[i].events); break;
      }
    }
    // Closed connections are reused only now: later events of this turn may name them.
    for (Connection* c : retired_) {
      c->reset();
      free_.push_back(c);
    }
    retired_.clear();
  }
  return true;
}

void Worker::accept_all() {
  if (draining_) return;
  for (;;) {
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof peer;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_size,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors: the socket would stay readable and spin the loop;
      // stop watching it until a connection is released.
      if (errno == EMFILE || errno == ENFILE) pause_accepting(true);
      return;
    }
    if (connections_.fetch_add(1, std::memory_order_relaxed) >= config_.max_connections) {
      connections_.fetch_sub(1, std::memory_order_relaxed);
      (void)::send(fd, kTooMany.data(), kTooMany.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Connection* c;
    if (free_.empty()) {
      all_.push_back(std::make_unique<Connection>());
      c = all_.back().get();
    } else {
      c = free_.back();
      free_.pop_back();
    }
    c->fd = fd;
    c->peer = peer;
    ++live_;
    idle_timers_.add(*c, now_ms());
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) close_connection(*c);
  }
}

void Worker::on_event(Connection& c, std::uint32_t events) {
  if (c.closed) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) c.readable = true;
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && c.watching_output) {
    send_head(c);
    return;
  }
  if (!c.responding) serve_input(c);
}

// Parses what is buffered and reads more, answering each complete request in
// turn; stops while a response is under way (pipelined requests wait their turn).
void Worker::serve_input(Connection& c) {
  c.in_input_loop = true;
  while (!c.responding && !c.closed) {
    if (c.input_begin < c.input_end) {
      c.input_begin += c.parser.feed(c.input.get() + c.input_begin, c.input_end - c.input_begin);
      if (c.input_begin == c.input_end) c.input_begin = c.input_end = 0;
      if (c.parser.status() == RequestParser::Status::Complete) {
        begin_response(c);
        continue;
      }
      if (c.parser.status() == RequestParser::Status::Error) {
        const int status = c.parser.error_status();
        refuse(c, status,
               status == 414   ? "request line too long"
               : status == 431 ? "request head too large"
                               : "malformed request",
               true);
        continue;
      }
    }
    if (c.peer_done) {  // nothing more will come, and no request is complete
      close_connection(c);
      break;
    }
    if (!c.readable) break;
    const ssize_t n = ::recv(c.fd, c.input.get() + c.input_end, Connection::kInputSize - c.input_end, 0);
    if (n > 0) {
      c.input_end += static_cast<std::size_t>(n);
    } else if (n == 0) {
      c.peer_done = true;
    } else if (errno == EAGAIN) {
      c.readable = false;
    } else if (errno != EINTR) {
      close_connection(c);
      break;
    }
  }
  c.in_input_loop = false;
  if (c.closed || c.responding) return;
  // Waiting for a request: its head must arrive within the header timeout from
  // its first byte; an empty connection may idle for the idle timeout.
  if (c.parser.inside_request()) {
    if (c.timers != &header_timers_) header_timers_.add(c, now_ms());
  } else if (draining_) {
    close_connection(c);
  } else {
    idle_timers_.add(c, now_ms());
  }
}

void Worker::begin_response(Connection& c) {
  const Request& r = c.parser.request();
  c.responding = true;
  c.close_after = !r.keep_alive || r.upgrade || draining_;
  c.index_tried = false;
  c.head_sent = 0;
  c.body_left = 0;
  c.body_sent = 0;
  c.why.clear();
  idle_timers_.add(c, now_ms());
  if (r.http_major != 1) return refuse(c, 505, "HTTP version not supported", true);
  if (r.http_minor >= 1 && !r.has_host) return refuse(c, 400, "HTTP/1.1 request without Host");
  if (r.method == Request::Method::Other) return refuse(c, 405, "method not allowed");
  switch (relative_path(r.target, c.path)) {
    case TargetVerdict::Ok: return open_file(c);
    case TargetVerdict::BadRequest: return refuse(c, 400, "bad request target");
    case TargetVerdict::Forbidden: return refuse(c, 403, "escape attempt: a '..' segment or an encoded '/'");
  }
}

void Worker::open_file(Connection& c) {
  ++c.ops;
  ringfile::OpTimeout limit(*engine_, kOpenTimeout);
  // O_NONBLOCK, as nginx opens: a FIFO or a device in ROOT would otherwise hold
  // the open (and an engine worker) until a peer shows up.
  ringfile::open_at(root_, c.path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0,
                    ringfile::Resolve::Beneath | ringfile::Resolve::NoMagicLinks,
                    [this, conn = &c](Result<File> file) {
                      --conn->ops;
                      if (conn->closed) return release_if_done(*conn);
                      opened(*conn, std::move(file));
                    });
}

void Worker::opened(Connection& c, Result<File> file) {
  if (!file) return refuse(c, status_for_open_error(file.error()), open_failure(file.error()));
  c.file = std::move(*file);
  ++c.ops;
  c.file.stat([this, conn = &c](Result<FileStat> stat) {
    --conn->ops;
    if (conn->closed) return release_if_done(*conn);
    statted(*conn, std::move(stat));
  });
}

void Worker::statted(Connection& c, Result<FileStat> stat) {
  if (!stat) return refuse(c, 500, "stat: " + stat.error().message());
  if (stat->is_directory() && !c.index_tried) {
    c.file.close();
    const std::string location = with_trailing_slash(c.parser.request().target);
    if (!location.empty()) return respond_error(c, 301, false, nullptr, 0, location);
    c.index_tried = true;
    c.path += "/index.html";
    return open_file(c);
  }
  if (!stat->is_regular()) {
    c.file.close();
    return stat->is_directory() ? refuse(c, 404, "directory without index.html")
                                : refuse(c, 403, "not a regular file");
  }
  // With O_NONBLOCK left on, io_uring fails reads of uncached pages with EAGAIN
  // instead of waiting for the disk.
  const int fd = c.file.native_handle();
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    c.file.close();
    return refuse(c, 500, std::string("fcntl: ") + std::strerror(errno));
  }
  respond_file(c, *stat);
}

void Worker::respond_file(Connection& c, const FileStat& stat) {
  const Request& r = c.parser.request();
  char modified[32];
  Head head;
  head.date = date();
  head.last_modified = http_date(stat.mtime.tv_sec, modified);
  head.keep_alive = !c.close_after;
  head.http10 = r.http_minor == 0;
  const std::string etag = etag_of(stat.mtime.tv_sec, stat.size);
  head.etag = etag;
  const Conditions conditions{r.if_match, r.if_unmodified_since, r.if_none_match, r.if_modified_since, r.if_range};
  const Precondition precondition = evaluate(conditions, etag, stat.mtime.tv_sec);
  if (precondition == Precondition::Failed) {
    c.file.close();
    return respond_error(c, 412, false);
  }
  ByteRange range{ByteRange::Kind::Whole, 0, stat.size};
  if (precondition == Precondition::NotModified) {
    head.status = 304;
    head.has_content_length = false;
    range.length = 0;
  } else {
    if (r.method == Request::Method::Get && !r.range.empty() && if_range_holds(r.if_range, etag, stat.mtime.tv_sec)) {
      range = parse_range(r.range, stat.size);
    }
    if (range.kind == ByteRange::Kind::Unsatisfiable) {
      c.file.close();
      return respond_error(c, 416, false, &range, stat.size);
    }
    head.type = content_type(c.path);
    head.content_length = range.length;
    if (range.kind == ByteRange::Kind::Part) {
      head.status = 206;
      head.range = &range;
      head.full_size = stat.size;
    }
  }
  c.status = head.status;
  build_head(head, c.head);
  c.body_offset = static_cast<std::int64_t>(range.first);
  c.body_left = r.method == Request::Method::Head ? 0 : range.length;
  send_head(c);
}

void Worker::respond_error(Connection& c, int status, bool close, const ByteRange* unsatisfied,
                           std::uint64_t size, std::string_view location) {
  const Request& r = c.parser.request();
  c.close_after = c.close_after || close;
  char line[64];
  const int body_size = std::snprintf(line, sizeof line, "%d %s\n", status, reason_phrase(status));
  Head head;
  head.status = status;
  head.date = date();
  head.type = "text/plain; charset=utf-8";
  head.content_length = static_cast<std::uint64_t>(body_size);
  head.keep_alive = !c.close_after;
  head.http10 = r.http_minor == 0;
  head.allow = status == 405;
  head.range = unsatisfied;
  head.full_size = size;
  head.location = location;
  c.status = status;
  build_head(head, c.head);
  if (r.method != Request::Method::Head || c.parser.status() == RequestParser::Status::Error) {
    c.head.append(line, static_cast<std::size_t>(body_size));
    c.body_sent = static_cast<std::uint64_t>(body_size);
  }
  c.responding = true;
  c.body_left = 0;
  send_head(c);
}

void Worker::send_head(Connection& c) {
  while (c.head_sent < c.head.size()) {
    const int more = c.body_left > 0 ? MSG_MORE : 0;
    const ssize_t n = ::send(c.fd, c.head.data() + c.head_sent, c.head.size() - c.head_sent, MSG_NOSIGNAL | more);
    if (n >= 0) {
      c.head_sent += static_cast<std::size_t>(n);
      idle_timers_.add(c, now_ms());
    } else if (errno == EAGAIN) {
      return watch_output(c, true);
    } else if (errno != EINTR) {
      return close_connection(c);
    }
  }
  if (c.watching_output) watch_output(c, false);
  send_body(c);
}

void Worker::watch_output(Connection& c, bool on) {
  c.watching_output = on;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) close_connection(c);
}

void Worker::send_body(Connection& c) {
  if (c.body_left == 0) return finish_response(c);
  const std::uint64_t chunk = std::min(c.body_left, kBodyChunk);
  ++c.ops;
  c.file.send_to(c.fd, c.body_offset, chunk, [this, conn = &c, chunk](Result<std::size_t> sent) {
    Connection& c = *conn;
    --c.ops;
    if (c.closed) return release_if_done(c);
    // An error, or a file that shrank under the promised Content-Length: the
    // client can only be told by closing.
    if (!sent || *sent < chunk) {
      if (sent) c.body_sent += *sent;
      return close_connection(c);
    }
    c.body_offset += static_cast<std::int64_t>(*sent);
    c.body_left -= *sent;
    c.body_sent += *sent;
    idle_timers_.add(c, now_ms());
    send_body(c);
  });
}

void Worker::finish_response(Connection& c) {
  if (access_log_.is_open()) log_access(c);
  if (error_log_.is_open() && c.status >= 400 && c.status != 412 && c.status != 416) log_error(c);
  if (c.file.is_open()) c.file.close();
  c.responding = false;
  c.parser.next();
  if (c.close_after) return close_connection(c);
  if (!c.in_input_loop) serve_input(c);
}

void Worker::close_connection(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  TimerList::remove(c);
  connections_.fetch_sub(1, std::memory_order_relaxed);
  // An op still using the socket ends at once on a shut-down socket; the
  // descriptor itself stays open until its callback has run.
  if (c.ops > 0) {
    ::shutdown(c.fd, SHUT_RDWR);
    c.file.cancel_all();
  }
  release_if_done(c);
}

void Worker::release_if_done(Connection& c) {
  if (!c.closed || c.ops > 0 || c.fd < 0) return;
  ::close(c.fd);
  c.fd = -1;
  if (c.file.is_open()) c.file.close();
  --live_;
  retired_.push_back(&c);
  if (accept_paused_) pause_accepting(false);
}

void Worker::pause_accepting(bool pause) {
  if (listen_fd_ < 0 || accept_paused_ == pause) return;
  accept_paused_ = pause;
  if (pause) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
  else add_to_epoll(epoll_fd_, listen_fd_, EPOLLIN, kListenTag);
}

void Worker::tick() {
  std::uint64_t expirations;
  (void)::read(timer_fd_, &expirations, sizeof expirations);
  access_log_.flush();
  error_log_.flush();
  while (Connection* c = header_timers_.expired(now_ms())) close_connection(*c);
  while (Connection* c = idle_timers_.expired(now_ms())) close_connection(*c);
  if (draining_ && now_ms() >= drain_deadline_ms_) {
    while (Connection* c = idle_timers_.front()) close_connection(*c);
  }
}

// Stops accepting; connections without a response under way close now, the
// others once their response is out (or at the shutdown timeout).
void Worker::begin_drain() {
  std::uint64_t value;
  (void)::read(wake_fd_, &value, sizeof value);
  if (draining_) return;
  draining_ = true;
  drain_deadline_ms_ = now_ms() + config_.shutdown_timeout.count();
  pause_accepting(true);
  ::close(listen_fd_);
  listen_fd_ = -1;
  while (Connection* c = header_timers_.front()) close_connection(*c);
  std::vector<Connection*> open;
  for (Connection* c = idle_timers_.front(); c; c = c->timer_next) open.push_back(c);
  for (Connection* c : open) {
    if (c->responding) c->close_after = true;
    else close_connection(*c);
  }
}

std::string_view Worker::date() {
  const std::time_t now = std::time(nullptr);
  if (now != date_time_) {
    date_time_ = now;
    date_size_ = http_date(now, date_).size();
  }
  return {date_, date_size_};
}

void Worker::refuse(Connection& c, int status, std::string why, bool close) {
  c.why = std::move(why);
  respond_error(c, status, close);
}

namespace {

std::string peer_address(const sockaddr_storage& peer) {
  char address[INET6_ADDRSTRLEN] = "-";
  if (peer.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, address, sizeof address);
  } else if (peer.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, address, sizeof address);
  }
  return address;
}

// As nginx writes a logged value: '"', '\\' and bytes outside printable ASCII as \xHH.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 || byte >= 0x7f || ch == '"' || ch == '\\') {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += ch;
    }
  }
}

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  if (text.empty()) out += '-';
  else append_escaped(out, text);
  out += '"';
}

}  // namespace

// nginx's combined format: addr - - [time] "request line" status bytes "referer" "user agent".
void Worker::log_access(const Connection& c) {
  const Request& r = c.parser.request();
  update_log_time();
  std::string line = peer_address(c.peer);
  line += " - - [";
  line += log_time_text_;
  line += "] \"";
  append_escaped(line, c.parser.request_line());
  line += "\" " + std::to_string(c.status) + " " + std::to_string(c.body_sent) + " ";
  const bool parsed = c.parser.status() != RequestParser::Status::Error;
  append_quoted(line, parsed ? std::string_view(r.referer) : std::string_view());
  line += ' ';
  append_quoted(line, parsed ? std::string_view(r.user_agent) : std::string_view());
  line += '\n';
  access_log_.append(line);
}

// nginx's error log layout: date time [error] client, request: reason.
void Worker::log_error(const Connection& c) {
  update_log_time();
  std::string line = error_time_text_;
  line += " [error] client: " + peer_address(c.peer) + ", request: \"";
  append_escaped(line, c.parser.request_line());
  line += "\", " + std::to_string(c.status) + ": ";
  line += c.why.empty() ? reason_phrase(c.status) : c.why;
  line += '\n';
  error_log_.append(line);
}

void Worker::update_log_time() {
  const std::time_t now = std::time(nullptr);
  if (now == log_time_) return;
  log_time_ = now;
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(log_time_text_, sizeof log_time_text_, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  std::strftime(error_time_text_, sizeof error_time_text_, "%Y/%m/%d %H:%M:%S", &tm);
}

}  // namespace serve
