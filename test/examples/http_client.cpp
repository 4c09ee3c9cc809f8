#include "http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <thread>

namespace ringfile::test {

HttpClient::HttpClient(int port, std::chrono::milliseconds timeout, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && !finish_connect(timeout)) {
    ::close(fd_);
    fd_ = -1;
  }
}

// A connect() that a signal or io_uring task work (this process has had rings)
// interrupts goes on in the kernel: wait for it rather than count it as refused.
bool HttpClient::finish_connect(std::chrono::milliseconds timeout) {
  connect_errno_ = errno;
  if (connect_errno_ != EINTR) return false;
  pollfd p{fd_, POLLOUT, 0};
  int n;
  do n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (n < 0 && errno == EINTR);
  socklen_t len = sizeof connect_errno_;
  if (n == 1 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &connect_errno_, &len) == 0 && connect_errno_ == 0) return true;
  if (n == 0) connect_errno_ = ETIMEDOUT;
  return false;
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpClient::send(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool HttpClient::fill() {
  if (eof_ || fd_ < 0) return false;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffered_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno == ECONNRESET) eof_ = true;
    return false;  // closed, reset, or SO_RCVTIMEO passed (EAGAIN)
  }
}

bool HttpClient::read(HttpResponse& out, bool head_request) {
  out = HttpResponse();
  std::size_t end;
  while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  const std::string head = buffered_.substr(0, end);
  buffered_.erase(0, end + 4);
  if (head.compare(0, 9, "HTTP/1.1 ") != 0 || head.size() < 12) return false;
  out.status = std::stoi(head.substr(9, 3));
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos) {
    const std::size_t start = line + 2;
    line = head.find("\r\n", start);
    const std::string field = head.substr(start, line == std::string::npos ? std::string::npos : line - start);
    const std::size_t colon = field.find(':');
    if (colon == std::string::npos) return false;
    std::string name = field.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    out.headers[name] = value;
  }
  if (head_request || out.status == 304) return true;
  const std::string length = out.header("content-length");
  if (length.empty()) return false;  // the server always says
  const std::size_t size = std::stoull(length);
  while (buffered_.size() < size) {
    if (!fill()) return false;
  }
  out.body = buffered_.substr(0, size);
  buffered_.erase(0, size);
  return true;
}

HttpResponse HttpClient::get(const std::string& target, const std::string& extra_headers, const std::string& method) {
  HttpResponse r;
  if (!send(method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n")) return r;
  if (!read(r, method == "HEAD")) r.status = 0;
  return r;
}

bool HttpClient::closed_by_server(std::string* rest) {
  while (fill()) {
  }
  if (rest) *rest = buffered_;
  return eof_;
}

std::string HttpClient::read_some(std::size_t n) {
  if (buffered_.empty()) fill();
  std::string out = buffered_.substr(0, n);
  buffered_.erase(0, out.size());
  return out;
}

ServeProcess::ServeProcess(const std::string& program, const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  stdout_ = out[0];
  first_line_ = next_line();
  // "listening on ADDR:PORT": the port after the last ':'.
  const std::string prefix = "listening on ";
  if (first_line_.compare(0, prefix.size(), prefix) == 0 && first_line_.rfind(':') != std::string::npos) {
    port_ = std::atoi(first_line_.c_str() + first_line_.rfind(':') + 1);
  }
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (stdout_ >= 0) ::close(stdout_);
}

std::string ServeProcess::next_line(std::chrono::milliseconds timeout) {
  std::string line;
  pollfd p{stdout_, POLLIN, 0};
  char c;
  while (::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && ::read(stdout_, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

void ServeProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServeProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

}  // namespace ringfile::test
