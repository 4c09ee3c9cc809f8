#pragma once

// A plain-socket HTTP/1.1 client and a handle on a running ringfile-serve, for
// the server's tests. Every read and write is bounded in time, so a server that
// misbehaves fails a test instead of hanging it.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ringfile::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  // Connects to 127.0.0.1:port; reads and writes give up after `timeout`.
  // receive_buffer > 0 shrinks SO_RCVBUF first (a slow reader).
  explicit HttpClient(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                      int receive_buffer = 0);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  int connect_errno() const { return connect_errno_; }  // why it is not connected
  int fd() const { return fd_; }
  bool send(const std::string& bytes);
  // Reads one response; a HEAD response (or 304) carries no body whatever its
  // Content-Length says. False on a timeout, a close or bytes that are not HTTP.
  bool read(HttpResponse& out, bool head_request = false);
  // Sends a GET (or another method) for `target` and reads its response.
  HttpResponse get(const std::string& target, const std::string& extra_headers = "",
                   const std::string& method = "GET");
  // Reads until the server closes: true when it did within the timeout.
  bool closed_by_server(std::string* rest = nullptr);
  // Reads up to n bytes of whatever comes next (raw), waiting at most the timeout.
  std::string read_some(std::size_t n);

 private:
  bool finish_connect(std::chrono::milliseconds timeout);
  bool fill();  // reads more into buffered_; false on EOF, error or timeout
  int fd_ = -1;
  int connect_errno_ = 0;
  std::string buffered_;
  bool eof_ = false;
};

class ServeProcess {
 public:
  // Starts the server on 127.0.0.1:0 with `args`, and reads its first stdout
  // line for the port.
  ServeProcess(const std::string& program, const std::vector<std::string>& args);
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& first_line() const { return first_line_; }
  // The next line on its stdout (without the newline); empty after the timeout.
  std::string next_line(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void signal(int sig) const;
  // Waits for the process to exit (bounded); its exit status, or -1 on a timeout.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
  int port_ = 0;
  std::string first_line_;
};

}  // namespace ringfile::test
