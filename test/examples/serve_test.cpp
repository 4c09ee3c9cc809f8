// ringfile-serve on real sockets on 127.0.0.1, on both engines: byte-exact
// bodies, HTTP semantics, path safety, timeouts, the connection cap and a
// graceful shutdown. Every socket read is bounded (HttpClient), so a server bug
// fails a test rather than hanging it.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "example_runner.hpp"
#include "http_client.hpp"

namespace ringfile::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kSecret[] = "secret outside the root";

// A GET on a new connection: its wall time, connect included.
std::chrono::milliseconds timed_get(int port, const std::string& target, HttpResponse& out) {
  const auto began = std::chrono::steady_clock::now();
  HttpClient client(port, std::chrono::seconds(3));
  out = client.get(target);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
}

class ServeTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (auto why = skip_reason(GetParam()); !why.empty()) GTEST_SKIP() << why;
    program_ = program("RINGFILE_SERVE");
    if (program_.empty()) {
      GTEST_SKIP() << "ringfile-serve was not built (libhttp-parser-dev not found at configure time), "
                      "or the test was not run through meson test (RINGFILE_SERVE unset)";
    }
    root_ = dir_.path() / "root";
    fs::create_directories(root_ / "dir");
    fs::create_directories(root_ / "empty_dir");
    fs::create_directories(dir_.path() / "outside");
    write_plain((dir_.path() / "outside" / "secret").string(), kSecret);
    write_plain((root_ / "dir" / "index.html").string(), "<p>index</p>");
    write_plain((root_ / "hello.txt").string(), "hello\n");
  }

  ServeProcess& start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--listen", "127.0.0.1:0", "--threads", "2", engine_flag(GetParam())};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(root_.string());
    server_ = std::make_unique<ServeProcess>(program_, args);
    EXPECT_NE(server_->port(), 0) << "first line: " << server_->first_line();
    return *server_;
  }
  int port() const { return server_->port(); }
  // Sends `raw` on a new connection: the status of the answer (0 if none), which
  // must be followed by the server closing the connection.
  int status_then_close(const std::string& raw) {
    HttpClient client(port());
    HttpResponse r;
    if (!client.send(raw) || !client.read(r)) return 0;
    EXPECT_TRUE(client.closed_by_server()) << "status " << r.status;
    return r.status;
  }
  std::string put(const std::string& name, const std::string& data) {
    write_plain((root_ / name).string(), data);
    return data;
  }

  std::string program_;
  TempDir dir_;
  fs::path root_;
  std::unique_ptr<ServeProcess> server_;
};

TEST_P(ServeTest, FirstLineNamesTheAddress) {
  start();
  EXPECT_EQ(server_->first_line().rfind("listening on 127.0.0.1:", 0), 0u) << server_->first_line();
  EXPECT_GT(port(), 0);
}

TEST_P(ServeTest, AccessLogNamesEachResponse) {
  start({"--access-log"});
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").status, 200);
  EXPECT_EQ(client.get("/missing", "", "HEAD").status, 404);
  EXPECT_EQ(server_->next_line(), "127.0.0.1 \"GET /hello.txt HTTP/1.1\" 200 6");
  EXPECT_EQ(server_->next_line(), "127.0.0.1 \"HEAD /missing HTTP/1.1\" 404 0");
}

TEST_P(ServeTest, BodiesAreByteExact) {
  start();
  HttpClient client(port());
  ASSERT_TRUE(client.connected());
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
                           std::size_t{1024 * 1024 + 1}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const std::string name = "f" + std::to_string(size) + ".bin";
    const std::string data = put(name, random_bytes(size, static_cast<std::uint32_t>(size + 7)));
    const HttpResponse r = client.get("/" + name);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-length"), std::to_string(size));
    EXPECT_EQ(r.header("content-type"), "application/octet-stream");
    EXPECT_FALSE(r.header("last-modified").empty());
    EXPECT_FALSE(r.header("date").empty());
    EXPECT_TRUE(r.body == data) << "body differs";
  }
  EXPECT_EQ(client.get("/hello.txt").header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(client.get("/dir/index.html").header("content-type"), "text/html; charset=utf-8");
}

TEST_P(ServeTest, SparseHundredMebibyteFile) {
  const std::string path = (root_ / "sparse.bin").string();
  constexpr std::size_t kSize = 100u << 20;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kSize), 0);
  // Marks at the start, in the middle and at the end, so an offset slip shows.
  for (std::size_t at : {std::size_t{0}, kSize / 2 + 12345, kSize - 5}) {
    ASSERT_EQ(::pwrite(fd, "MARK!", 5, static_cast<off_t>(at)), 5);
  }
  ::close(fd);
  start();
  HttpClient client(port());
  const HttpResponse r = client.get("/sparse.bin");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body.size(), kSize);
  EXPECT_TRUE(r.body == read_plain(path)) << "body differs";
}

TEST_P(ServeTest, HeadSendsHeadersOnly) {
  const std::string data = put("h.bin", random_bytes(10000, 3));
  start();
  HttpClient client(port());
  const HttpResponse head = client.get("/h.bin", "", "HEAD");
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "10000");
  // No body followed it: the next response on the connection parses cleanly.
  const HttpResponse get = client.get("/h.bin");
  ASSERT_EQ(get.status, 200);
  EXPECT_TRUE(get.body == data);
  EXPECT_EQ(client.get("/missing", "", "HEAD").status, 404);
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, ByteRanges) {
  const std::string data = put("r.bin", random_bytes(1000, 5));
  start();
  HttpClient client(port());
  struct Case {
    std::string range;
    std::size_t first, length;
  };
  for (const Case& c : {Case{"bytes=10-19", 10, 10}, Case{"bytes=990-", 990, 10}, Case{"bytes=-5", 995, 5},
                        Case{"bytes=0-0", 0, 1}, Case{"bytes=900-5000", 900, 100}}) {
    SCOPED_TRACE(c.range);
    const HttpResponse r = client.get("/r.bin", "Range: " + c.range + "\r\n");
    ASSERT_EQ(r.status, 206);
    EXPECT_EQ(r.header("content-range"), "bytes " + std::to_string(c.first) + "-" +
                                             std::to_string(c.first + c.length - 1) + "/1000");
    EXPECT_TRUE(r.body == data.substr(c.first, c.length));
  }
  for (const char* unsatisfiable : {"bytes=1000-", "bytes=5000-6000", "bytes=-0"}) {
    SCOPED_TRACE(unsatisfiable);
    const HttpResponse r = client.get("/r.bin", std::string("Range: ") + unsatisfiable + "\r\n");
    EXPECT_EQ(r.status, 416);
    EXPECT_EQ(r.header("content-range"), "bytes */1000");
  }
  // Several ranges, or one that is not bytes: the whole file.
  for (const char* ignored : {"bytes=0-1,5-6", "lines=1-2"}) {
    const HttpResponse r = client.get("/r.bin", std::string("Range: ") + ignored + "\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == data);
  }
}

TEST_P(ServeTest, IfModifiedSince) {
  put("m.txt", "modified");
  const std::string path = (root_ / "m.txt").string();
  timespec times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};  // 2001-09-09T01:46:40Z
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  start();
  HttpClient client(port());
  const HttpResponse first = client.get("/m.txt");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("last-modified"), "Sun, 09 Sep 2001 01:46:40 GMT");
  const HttpResponse same = client.get("/m.txt", "If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n");
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(client.get("/m.txt", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n").status, 200);
  EXPECT_EQ(client.get("/m.txt", "If-Modified-Since: not a date\r\n").status, 200);
  EXPECT_EQ(client.get("/m.txt").body, "modified");  // the 304 sent no body
}

TEST_P(ServeTest, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  HttpClient client(port());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(client.get("/hello.txt").body, "hello\n") << "request " << i;
}

TEST_P(ServeTest, PipelinedRequestsAnswerInOrder) {
  const std::string big = put("big.bin", random_bytes(300 * 1024, 9));
  start();
  HttpClient client(port());
  ASSERT_TRUE(client.send(
      "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"
      "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /dir/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  HttpResponse r;
  ASSERT_TRUE(client.read(r));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == big);
  ASSERT_TRUE(client.read(r, true));
  EXPECT_EQ(r.header("content-length"), "6");
  ASSERT_TRUE(client.read(r));
  EXPECT_EQ(r.status, 404);
  ASSERT_TRUE(client.read(r));
  EXPECT_EQ(r.body, "hello\n");
  ASSERT_TRUE(client.read(r));
  EXPECT_EQ(r.body, "<p>index</p>");
  EXPECT_EQ(r.header("connection"), "close");
  std::string rest;
  EXPECT_TRUE(client.closed_by_server(&rest));
  EXPECT_TRUE(rest.empty());
}

TEST_P(ServeTest, ConnectionPersistenceFollowsTheVersion) {
  start();
  {
    HttpClient client(port());
    ASSERT_TRUE(client.send("GET /hello.txt HTTP/1.0\r\n\r\n"));
    HttpResponse r;
    ASSERT_TRUE(client.read(r));
    EXPECT_EQ(r.body, "hello\n");
    EXPECT_TRUE(client.closed_by_server()) << "HTTP/1.0 closes by default";
  }
  {
    HttpClient client(port());
    ASSERT_TRUE(client.send("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    HttpResponse r;
    ASSERT_TRUE(client.read(r));
    EXPECT_EQ(r.header("connection"), "keep-alive");
    EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  }
  {
    HttpClient client(port());
    EXPECT_EQ(client.get("/hello.txt", "Connection: close\r\n").header("connection"), "close");
    EXPECT_TRUE(client.closed_by_server());
  }
}

TEST_P(ServeTest, DirectoriesServeTheirIndex) {
  start();
  HttpClient client(port());
  EXPECT_EQ(client.get("/dir/").body, "<p>index</p>");
  EXPECT_EQ(client.get("/dir").body, "<p>index</p>");
  EXPECT_EQ(client.get("/./dir/./").body, "<p>index</p>");
  EXPECT_EQ(client.get("/empty_dir/").status, 404);
  EXPECT_EQ(client.get("/empty_dir").status, 404);
  EXPECT_EQ(client.get("/").status, 404);
  put("index.html", "root index");
  EXPECT_EQ(client.get("/").body, "root index");
  EXPECT_EQ(client.get("/hello.txt/").status, 404);
}

TEST_P(ServeTest, StatusCodes) {
  start();
  HttpClient client(port());
  const HttpResponse post = client.get("/hello.txt", "Content-Length: 3\r\n\r\nabc", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  EXPECT_EQ(client.get("/hello.txt", "", "DELETE").status, 405);
  EXPECT_EQ(client.get("/missing.txt").status, 404);
  EXPECT_EQ(client.get("/hello%2etxt").body, "hello\n");  // percent-decoded
  EXPECT_EQ(client.get("/hello.txt?query=1#frag").body, "hello\n");
  EXPECT_EQ(client.get("http://example.com/hello.txt").body, "hello\n");  // absolute form
}

TEST_P(ServeTest, UnreadableFileIsForbidden) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: file permissions do not stop root's open";
  put("private.txt", "private");
  ASSERT_EQ(::chmod((root_ / "private.txt").c_str(), 0), 0);
  start();
  HttpClient client(port());
  const HttpResponse r = client.get("/private.txt");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body.find("private"), std::string::npos);
}

TEST_P(ServeTest, NoRequestLeavesTheRoot) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_symlink("/etc", root_ / "etc_link");
  fs::create_symlink("/etc/passwd", root_ / "passwd_link");
  fs::create_symlink(outside / "secret", root_ / "absolute_link");
  fs::create_symlink("../outside/secret", root_ / "relative_link");
  fs::create_symlink("../../outside/secret", root_ / "dir" / "deep_relative_link");
  fs::create_symlink("../outside", root_ / "outside_dir_link");
  fs::create_symlink("/proc/self/root/etc/passwd", root_ / "magic_link");
  fs::create_symlink("../hello.txt", root_ / "dir" / "inside_link");
  start();
  const char* attempts[] = {
      "/../outside/secret",         "/dir/../../outside/secret", "/%2e%2e/outside/secret",
      "/%2E%2E/outside/secret",     "/..%2foutside%2fsecret",    "/dir%2f..%2f..%2foutside%2fsecret",
      "/etc_link/passwd",           "/passwd_link",              "/absolute_link",
      "/relative_link",             "/dir/deep_relative_link",   "/outside_dir_link/secret",
      "/magic_link",                "/../../../../etc/passwd",   "http://h/../outside/secret",
      "/dir/%2e%2e/%2e%2e/outside/secret",
  };
  for (const char* target : attempts) {
    SCOPED_TRACE(target);
    HttpClient client(port());
    const HttpResponse r = client.get(target);
    EXPECT_TRUE(r.status == 403 || r.status == 404) << "status " << r.status;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos);
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello%00.txt").status, 400);  // an encoded NUL
  EXPECT_EQ(client.get("/dir/inside_link").body, "hello\n");  // a symlink that stays inside is fine
}

TEST_P(ServeTest, FifoInRootDoesNotHangTheConnection) {
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0644), 0);
  start();
  HttpClient client(port());
  EXPECT_EQ(client.get("/fifo").status, 403);
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, SixtyFourFifoRequestsDoNotDelayOthers) {
  constexpr int kFifos = 64;
  for (int i = 0; i < kFifos; ++i) ASSERT_EQ(::mkfifo((root_ / ("fifo" + std::to_string(i))).c_str(), 0644), 0);
  start({"--threads", "1"});  // one engine: every FIFO request lands on it
  std::vector<std::unique_ptr<HttpClient>> peers;
  for (int i = 0; i < kFifos; ++i) {
    peers.push_back(std::make_unique<HttpClient>(port()));
    ASSERT_TRUE(peers.back()->send("GET /fifo" + std::to_string(i) + " HTTP/1.1\r\nHost: t\r\n\r\n")) << i;
  }
  std::this_thread::sleep_for(200ms);  // every FIFO request has reached the server
  HttpResponse r;
  const auto took = timed_get(port(), "/hello.txt", r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello\n");
  EXPECT_LT(took, 100ms) << "a fresh GET took " << took.count() << " ms";
  for (int i = 0; i < kFifos; ++i) {
    HttpResponse fifo;
    ASSERT_TRUE(peers[i]->read(fifo)) << i;
    EXPECT_EQ(fifo.status, 403) << i;
  }
}

TEST_P(ServeTest, StalledDownloadsDoNotDelayOthers) {
  constexpr std::size_t kSize = 64u << 20;
  constexpr int kStalled = 100;
  const std::string path = (root_ / "large.bin").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kSize), 0);
  ASSERT_EQ(::pwrite(fd, "MARK!", 5, 0), 5);
  ASSERT_EQ(::fsync(fd), 0);
  // Uncached, so that the body goes through the engine rather than the owner
  // thread's cached-send fast path.
  ASSERT_EQ(::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  ::close(fd);
  start({"--threads", "1"});  // one engine: more stalled sends than it has pool workers
  std::vector<std::unique_ptr<HttpClient>> stalled;
  for (int i = 0; i < kStalled; ++i) {
    stalled.push_back(std::make_unique<HttpClient>(port(), 10s, 4096));
    ASSERT_TRUE(stalled.back()->connected()) << i << ": " << std::strerror(stalled.back()->connect_errno());
    ASSERT_TRUE(stalled.back()->send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n")) << i;
  }
  std::this_thread::sleep_for(300ms);  // every body has filled its socket
  HttpResponse r;
  const auto took = timed_get(port(), "/hello.txt", r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello\n");
  EXPECT_LT(took, 100ms) << "a fresh GET took " << took.count() << " ms";
  EXPECT_EQ(stalled.front()->read_some(5), "HTTP/") << "the stalled downloads were answered";
}

TEST_P(ServeTest, MalformedRequestsGet400AndClose) {
  start();
  for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
                          "GET /hello.txt HTTP/9.9\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    const int status = status_then_close(bad);
    EXPECT_TRUE(status == 400 || status == 505) << status;
  }
  HttpClient client(port());  // a broken %-escape in a well-formed request: the connection stays
  EXPECT_EQ(client.get("/%zz").status, 400);
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, OversizedRequestLineAndHeaders) {
  start();
  EXPECT_EQ(status_then_close("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n"), 414);
  EXPECT_EQ(status_then_close("GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n"),
            431);
  HttpClient client(port());  // just under the limit is fine
  EXPECT_EQ(client.get("/hello.txt", "X-Big: " + std::string(7000, 'c') + "\r\n").body, "hello\n");
}

TEST_P(ServeTest, StalledClientIsClosedWhileOthersAreServed) {
  start({"--header-timeout", "300"});
  HttpClient stalled(port());
  ASSERT_TRUE(stalled.send("GET /hello.txt HTTP/1.1\r\nHo"));
  for (int i = 0; i < 5; ++i) {
    HttpClient other(port());
    EXPECT_EQ(other.get("/hello.txt").body, "hello\n");
  }
  // Closed after the header timeout; the bound here is generous on purpose.
  std::string rest;
  EXPECT_TRUE(stalled.closed_by_server(&rest));
  EXPECT_TRUE(rest.empty()) << rest;
}

TEST_P(ServeTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  start({"--idle-timeout", "300"});
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  EXPECT_TRUE(client.closed_by_server());
}

TEST_P(ServeTest, AClientThatLeavesMidBodyDisturbsNoOne) {
  put("large.bin", random_bytes(32u << 20, 13));
  ServeProcess& server = start({"--threads", "1"});
  for (int i = 0; i < 3; ++i) {
    HttpClient leaving(port(), 10s, 4096);
    ASSERT_TRUE(leaving.send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_FALSE(leaving.read_some(1000).empty());
  }  // closed with unread data: a reset under the send
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << "every connection was released";
}

TEST_P(ServeTest, AClientThatStopsReadingIsClosedAfterTheIdleTimeout) {
  const std::string data = put("large.bin", random_bytes(32u << 20, 17));
  start({"--idle-timeout", "300"});
  HttpClient stuck(port(), 10s, 4096);
  ASSERT_TRUE(stuck.send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::string received = stuck.read_some(1000);
  std::this_thread::sleep_for(1s);  // reads nothing while the body waits for room
  std::string rest;
  EXPECT_TRUE(stuck.closed_by_server(&rest));
  EXPECT_LT(received.size() + rest.size(), data.size()) << "the body was cut short";
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, AThousandIdleConnectionsDoNotStopOthers) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 1100 && limit.rlim_max >= 1100) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  if (limit.rlim_cur < 1100) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below 1100 descriptors";
  start();
  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<HttpClient>(port()));
    ASSERT_TRUE(idle.back()->connected()) << i << ": " << std::strerror(idle.back()->connect_errno());
    if (i % 2 == 0) continue;
    ASSERT_TRUE(idle.back()->send("GET /hello.txt HTTP/1.1\r\n"));  // half a request, then silence
  }
  HttpClient client(port());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  // The idle ones still work too.
  EXPECT_EQ(idle[0]->get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, ConnectionCap) {
  start({"--max-connections", "2", "--threads", "1"});
  HttpClient a(port()), b(port());
  EXPECT_EQ(a.get("/hello.txt").body, "hello\n");
  EXPECT_EQ(b.get("/hello.txt").body, "hello\n");
  HttpClient refused(port());
  HttpResponse r;
  ASSERT_TRUE(refused.read(r));
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(refused.closed_by_server());
  EXPECT_EQ(a.get("/hello.txt").body, "hello\n");
}

TEST_P(ServeTest, GracefulShutdownFinishesTheTransferInFlight) {
  const std::string data = put("large.bin", random_bytes(32u << 20, 11));
  ServeProcess& server = start();
  HttpClient idle(port());
  HttpClient slow(port(), 10s, 4096);
  ASSERT_TRUE(slow.send("GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string start_of_body = slow.read_some(1000);  // the response is under way
  ASSERT_FALSE(start_of_body.empty());
  server.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  // New connections are refused once the listening sockets are closed; the
  // idle one is closed.
  EXPECT_TRUE(idle.closed_by_server());
  std::string rest;
  EXPECT_TRUE(slow.closed_by_server(&rest));
  const std::string received = start_of_body + rest;
  const std::size_t body_at = received.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  EXPECT_EQ(received.size() - body_at - 4, data.size());
  EXPECT_TRUE(received.compare(body_at + 4, std::string::npos, data) == 0) << "body differs";
  EXPECT_EQ(server.wait_exit(), 0);
  HttpClient after(port());
  EXPECT_FALSE(after.connected());
}

TEST_P(ServeTest, SigintStopsAnIdleServerWithExitZero) {
  ServeProcess& server = start();
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  server.signal(SIGINT);
  EXPECT_TRUE(client.closed_by_server());
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST_P(ServeTest, RefusesToStartOnAMissingRoot) {
  ServeProcess server(program_, {"--listen", "127.0.0.1:0", engine_flag(GetParam()),
                                 (dir_.path() / "no such root").string()});
  EXPECT_EQ(server.port(), 0);
  EXPECT_EQ(server.wait_exit(), 1);
}

INSTANTIATE_TEST_SUITE_P(Engines, ServeTest, ::testing::ValuesIn(engines_under_test()), backend_name);

}  // namespace
}  // namespace ringfile::test
