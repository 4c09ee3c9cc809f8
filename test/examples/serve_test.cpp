// ringfile-serve on real sockets on 127.0.0.1, on both engines: byte-exact
// bodies, HTTP semantics, path safety, timeouts, the connection cap and a
// graceful shutdown. Every socket read is bounded (HttpClient), so a server bug
// fails a test rather than hanging it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <sstream>
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
  // A file whose mtime is 1000000000 (2001-09-09T01:46:40Z, 0x3b9aca00), so its
  // Last-Modified and ETag are known in advance.
  std::string put_dated(const std::string& name, const std::string& data) {
    put(name, data);
    timespec times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
    EXPECT_EQ(::utimensat(AT_FDCWD, (root_ / name).c_str(), times, 0), 0);
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

// nginx's combined format, to stdout with "-"; the time is [dd/Mon/yyyy:hh:mm:ss +0000].
TEST_P(ServeTest, AccessLogIsInTheCombinedFormat) {
  start({"--access-log", "-"});
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt", "Referer: http://a.example/p\r\nUser-Agent: curl/7.88 \"x\"\r\n").status, 200);
  EXPECT_EQ(client.get("/missing", "", "HEAD").status, 404);
  const std::regex time(R"(\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\])");
  std::string first = server_->next_line(), second = server_->next_line();
  EXPECT_TRUE(std::regex_search(first, time)) << first;
  EXPECT_EQ(std::regex_replace(first, time, "[T]"),
            "127.0.0.1 - - [T] \"GET /hello.txt HTTP/1.1\" 200 6 \"http://a.example/p\" \"curl/7.88 \\x22x\\x22\"");
  EXPECT_EQ(std::regex_replace(second, time, "[T]"), "127.0.0.1 - - [T] \"HEAD /missing HTTP/1.1\" 404 0 \"-\" \"-\"");
  // A request that could not be parsed is logged as it was sent.
  EXPECT_EQ(status_then_close("GARBAGE \x01 here\r\n\r\n"), 400);
  const std::string third = std::regex_replace(server_->next_line(), time, "[T]");
  EXPECT_EQ(third.rfind("127.0.0.1 - - [T] \"GARBAGE \\x01 here\" 400 ", 0), 0u) << third;
}

// The access log goes to a FIFO nobody reads: once the pipe is full its writes
// wait inside the engine, and every response still goes out.
TEST_P(ServeTest, ALogNobodyReadsHoldsUpNoResponse) {
  const std::string fifo = (dir_.path() / "log.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);  // lets the server open it
  ASSERT_GE(reader, 0);
  start({"--access-log", fifo, "--threads", "1"});
  HttpClient client(port(), std::chrono::seconds(3));
  // ~90 bytes a line: 3000 lines are four times what the pipe holds (64 KiB).
  for (int i = 0; i < 3000; ++i) {
    const HttpResponse r = client.get("/hello.txt");
    ASSERT_EQ(r.status, 200) << "request " << i;
  }
  HttpClient fresh(port(), std::chrono::seconds(3));
  EXPECT_EQ(fresh.get("/hello.txt").body, "hello\n");
  // What the pipe holds is the log's first lines, whole.
  std::string log;
  char buf[65536];
  for (int rounds = 0; rounds < 300 && log.find('\n') == std::string::npos; ++rounds) {
    const ssize_t n = ::read(reader, buf, sizeof buf);
    if (n > 0) log.append(buf, static_cast<std::size_t>(n));
    else std::this_thread::sleep_for(10ms);
  }
  ::close(reader);
  EXPECT_NE(log.find("\"GET /hello.txt HTTP/1.1\" 200 6"), std::string::npos);
}

TEST_P(ServeTest, TheErrorLogGivesEachRefusalItsReason) {
  const std::string errors = (dir_.path() / "error.log").string();
  const std::string access = (dir_.path() / "access.log").string();
  ::symlink((dir_.path() / "outside" / "secret").c_str(), (root_ / "escape").c_str());
  start({"--error-log", errors, "--access-log", access});
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").status, 200);
  EXPECT_EQ(client.get("/missing.txt").status, 404);
  EXPECT_EQ(client.get("/escape").status, 403);
  EXPECT_EQ(client.get("/a/%2e%2e/%2e%2e/x").status, 403);
  EXPECT_EQ(status_then_close("NOT HTTP AT ALL\r\n\r\n"), 400);
  // The logs are written by the engine within a tick (at most 1 s here), and at shutdown.
  server_->signal(SIGTERM);
  EXPECT_EQ(server_->wait_exit(), 0);
  std::vector<std::string> lines;
  {
    std::istringstream in(read_plain(errors));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  // Each thread writes its own lines: the order across connections is not kept.
  ASSERT_EQ(lines.size(), 4u) << read_plain(errors);
  const std::regex layout(R"(^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[error\] client: 127\.0\.0\.1, request: ".*", \d{3}: .+$)");
  for (const auto& line : lines) EXPECT_TRUE(std::regex_match(line, layout)) << line;
  auto logged = [&](const std::string& text) {
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_EQ(logged("\"GET /missing.txt HTTP/1.1\", 404: open: No such file"), 1) << read_plain(errors);
  EXPECT_EQ(logged("\"GET /escape HTTP/1.1\", 403: escape attempt: a path or symlink out of the root"), 1)
      << read_plain(errors);
  EXPECT_EQ(logged("\"GET /a/%2e%2e/%2e%2e/x HTTP/1.1\", 403: escape attempt: a '..' segment"), 1) << read_plain(errors);
  EXPECT_EQ(logged("\"NOT HTTP AT ALL\", 400: malformed request"), 1) << read_plain(errors);
  // One access-log line per response, the 200 included.
  const std::string log = read_plain(access);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 5) << log;
  EXPECT_NE(log.find("\"GET /hello.txt HTTP/1.1\" 200 6"), std::string::npos) << log;
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

TEST_P(ServeTest, ContentTypesComeFromMimeTypes) {
  put("t.csv", "a,b\n");
  put("f.ttf", "font");
  put("x.foo", "foo");
  put("UPPER.CSV", "A,B\n");
  put("none", "no extension");
  const bool system_file = ::access("/etc/mime.types", R_OK) == 0;
  {
    start();
    HttpClient client(port());
    if (system_file) {
      EXPECT_EQ(client.get("/t.csv").header("content-type"), "text/csv; charset=utf-8");
      EXPECT_EQ(client.get("/f.ttf").header("content-type"), "font/ttf");
      EXPECT_EQ(client.get("/UPPER.CSV").header("content-type"), "text/csv; charset=utf-8");
    }
    EXPECT_EQ(client.get("/x.foo").header("content-type"), "application/octet-stream");
    EXPECT_EQ(client.get("/none").header("content-type"), "application/octet-stream");
    EXPECT_EQ(client.get("/hello.txt").header("content-type"), "text/plain; charset=utf-8");
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0);
  }
  const std::string table = (dir_.path() / "mime.types").string();
  write_plain(table, "# ours\napplication/x-foo foo\ntext/x-comma-separated csv  # a comment\n");
  start({"--mime-types", table});
  HttpClient client(port());
  EXPECT_EQ(client.get("/x.foo").header("content-type"), "application/x-foo");
  EXPECT_EQ(client.get("/t.csv").header("content-type"), "text/x-comma-separated; charset=utf-8");
  // What the file lacks, the built-in table answers.
  EXPECT_EQ(client.get("/dir/index.html").header("content-type"), "text/html; charset=utf-8");
  const std::string out = (dir_.path() / "out").string(), err = (dir_.path() / "err").string();
  EXPECT_EQ(run({program_, "--listen", "127.0.0.1:0", "--mime-types", table + ".missing", root_.string()}, out, err),
            1);
  EXPECT_NE(read_plain(err).find("mime.types.missing"), std::string::npos) << read_plain(err);
  if (!system_file) GTEST_SKIP() << "no /etc/mime.types here (Debian's media-types): its part was not checked";
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
  put_dated("m.txt", "modified");
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

// 1000000000 = 0x3b9aca00 (2001-09-09T01:46:40Z); 8 bytes: nginx's ETag form.
TEST_P(ServeTest, ETagAndIfNoneMatch) {
  put_dated("m.txt", "modified");
  const std::string path = (root_ / "m.txt").string();
  start();
  HttpClient client(port());
  const std::string etag = "\"3b9aca00-8\"";
  EXPECT_EQ(client.get("/m.txt").header("etag"), etag);
  for (const std::string& matching :
       std::vector<std::string>{etag, "\"other\", " + etag, "*", "W/" + etag, "\"a\",W/" + etag}) {
    SCOPED_TRACE(matching);
    const HttpResponse r = client.get("/m.txt", "If-None-Match: " + matching + "\r\n");
    EXPECT_EQ(r.status, 304);
    EXPECT_EQ(r.header("etag"), etag);
    EXPECT_TRUE(r.body.empty());
  }
  EXPECT_EQ(client.get("/m.txt", "If-None-Match: \"3b9aca00-9\"\r\n").status, 200);
  // Two If-None-Match headers are one list.
  EXPECT_EQ(client.get("/m.txt", "If-None-Match: \"x\"\r\nIf-None-Match: " + etag + "\r\n").status, 304);
  // If-None-Match present: If-Modified-Since is not looked at (RFC 9110 section 13.2.2).
  EXPECT_EQ(client.get("/m.txt", "If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n")
                .status,
            200);
  EXPECT_EQ(client.get("/m.txt", "", "HEAD").header("etag"), etag);
  // A changed file has a new tag.
  write_plain(path, "changed!!");
  EXPECT_EQ(client.get("/m.txt", "If-None-Match: " + etag + "\r\n").status, 200);
}

TEST_P(ServeTest, IfMatchAndIfUnmodifiedSinceFailWith412) {
  put_dated("m.txt", "modified");
  start();
  HttpClient client(port());
  const std::string etag = "\"3b9aca00-8\"";
  EXPECT_EQ(client.get("/m.txt", "If-Match: " + etag + "\r\n").body, "modified");
  EXPECT_EQ(client.get("/m.txt", "If-Match: *\r\n").status, 200);
  EXPECT_EQ(client.get("/m.txt", "If-Match: \"stale\"\r\n").status, 412);
  EXPECT_EQ(client.get("/m.txt", "If-Match: W/" + etag + "\r\n").status, 412);  // strong comparison
  EXPECT_EQ(client.get("/m.txt", "If-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n").status, 412);
  EXPECT_EQ(client.get("/m.txt", "If-Unmodified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n").status, 200);
  // If-Match present: If-Unmodified-Since is not looked at.
  EXPECT_EQ(client.get("/m.txt", "If-Match: " + etag + "\r\nIf-Unmodified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")
                .status,
            200);
  // Preconditions first: a failed If-Match is 412 even when If-None-Match would say 304.
  EXPECT_EQ(client.get("/m.txt", "If-Match: \"stale\"\r\nIf-None-Match: " + etag + "\r\n").status, 412);
}

// A resumed download of a file that changed gets the whole new file, never old
// and new bytes mixed.
TEST_P(ServeTest, IfRangeServesThePartOnlyForTheSameFile) {
  const std::string data = put_dated("r.bin", random_bytes(1000, 7));
  start();
  HttpClient client(port());
  const std::string etag = client.get("/r.bin").header("etag");
  ASSERT_EQ(etag, "\"3b9aca00-3e8\"");
  const HttpResponse same_tag = client.get("/r.bin", "Range: bytes=100-199\r\nIf-Range: " + etag + "\r\n");
  EXPECT_EQ(same_tag.status, 206);
  EXPECT_TRUE(same_tag.body == data.substr(100, 100));
  const HttpResponse same_date =
      client.get("/r.bin", "Range: bytes=100-199\r\nIf-Range: Sun, 09 Sep 2001 01:46:40 GMT\r\n");
  EXPECT_EQ(same_date.status, 206);
  for (const std::string& stale : std::vector<std::string>{"\"3b9aca00-3e7\"", "W/" + etag,
                                                           "Sat, 01 Jan 2000 00:00:00 GMT", "not a validator"}) {
    SCOPED_TRACE(stale);
    const HttpResponse r = client.get("/r.bin", "Range: bytes=100-199\r\nIf-Range: " + stale + "\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body == data);
  }
  // The file changes: the old tag no longer gets a part.
  const std::string fresh = put("r.bin", random_bytes(1000, 8));
  const HttpResponse after = client.get("/r.bin", "Range: bytes=100-199\r\nIf-Range: " + etag + "\r\n");
  EXPECT_EQ(after.status, 200);
  EXPECT_TRUE(after.body == fresh);
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
  EXPECT_EQ(client.get("/./dir/./").body, "<p>index</p>");
  EXPECT_EQ(client.get("/empty_dir/").status, 404);
  EXPECT_EQ(client.get("/").status, 404);
  put("index.html", "root index");
  EXPECT_EQ(client.get("/").body, "root index");
  EXPECT_EQ(client.get("/hello.txt/").status, 404);
}

// As nginx: the page's relative links must resolve inside the directory.
TEST_P(ServeTest, ADirectoryNamedWithoutItsSlashIsRedirected) {
  start();
  HttpClient client(port());
  for (const auto& [target, location] : std::vector<std::pair<std::string, std::string>>{
           {"/dir", "/dir/"},
           {"/dir?x=1&y=2", "/dir/?x=1&y=2"},
           {"/empty_dir", "/empty_dir/"},
           {"/./dir", "/./dir/"},
           {"http://example.com/dir?q", "/dir/?q"},
       }) {
    const HttpResponse r = client.get(target);
    EXPECT_EQ(r.status, 301) << target;
    EXPECT_EQ(r.header("location"), location) << target;
  }
  EXPECT_EQ(client.get("/dir", "", "HEAD").status, 301);
  EXPECT_EQ(client.get("/dir/").status, 200);
  EXPECT_EQ(client.get("/hello.txt").status, 200);
}

// RFC 9112 section 3.2: a server must answer 400 to an HTTP/1.1 request without Host.
TEST_P(ServeTest, Http11WithoutHostIsABadRequest) {
  start();
  HttpClient client(port());
  ASSERT_TRUE(client.send("GET /hello.txt HTTP/1.1\r\n\r\n"));
  HttpResponse r;
  ASSERT_TRUE(client.read(r));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(client.get("/hello.txt").status, 200);  // with Host, on the same connection
  HttpClient old(port());
  ASSERT_TRUE(old.send("GET /hello.txt HTTP/1.0\r\n\r\n"));  // 1.0 needs none
  HttpResponse r10;
  ASSERT_TRUE(old.read(r10));
  EXPECT_EQ(r10.status, 200);
  EXPECT_EQ(r10.body, "hello\n");
}

TEST_P(ServeTest, APortAnotherProcessListensOnIsAnError) {
  start();
  const std::string out = (dir_.path() / "out").string(), err = (dir_.path() / "err").string();
  const std::string taken = "127.0.0.1:" + std::to_string(port());
  EXPECT_EQ(run({program_, "--listen", taken, engine_flag(GetParam()), root_.string()}, out, err), 1);
  EXPECT_NE(read_plain(err).find("Address already in use"), std::string::npos) << read_plain(err);
  EXPECT_EQ(read_plain(out), "");
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").status, 200);  // the first server keeps the port

  // Any listener, SO_REUSEPORT or not: the port is someone else's.
  const int other = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(other, 0);
  const int one = 1;
  ::setsockopt(other, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(other, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(other, 4), 0);
  socklen_t size = sizeof a;
  ASSERT_EQ(::getsockname(other, reinterpret_cast<sockaddr*>(&a), &size), 0);
  const std::string held = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  EXPECT_EQ(run({program_, "--listen", held, engine_flag(GetParam()), root_.string()}, out, err), 1);
  EXPECT_NE(read_plain(err).find("Address already in use"), std::string::npos) << read_plain(err);
  ::close(other);
}

TEST_P(ServeTest, HelpAndVersionGoToStdoutAndExitZero) {
  const std::string out = (dir_.path() / "out").string(), err = (dir_.path() / "err").string();
  EXPECT_EQ(run({program_, "--help"}, out, err), 0);
  EXPECT_EQ(read_plain(out).rfind("usage: ringfile-serve", 0), 0u) << read_plain(out);
  EXPECT_EQ(read_plain(err), "");
  EXPECT_EQ(run({program_, "--version"}, out, err), 0);
  EXPECT_EQ(read_plain(out).rfind("ringfile-serve ", 0), 0u) << read_plain(out);
  EXPECT_EQ(run({program_, "--no-such-flag", root_.string()}, out, err), 2);
  EXPECT_NE(read_plain(err).find("usage:"), std::string::npos);
}

TEST_P(ServeTest, ListenTakesABarePortAndAHostName) {
  ServeProcess by_name(program_, {"--listen", "localhost:0", "--threads", "2", engine_flag(GetParam()), root_.string()});
  EXPECT_EQ(by_name.first_line().rfind("listening on 127.0.0.1:", 0), 0u) << by_name.first_line();
  ASSERT_NE(by_name.port(), 0);
  HttpClient a(by_name.port());
  EXPECT_EQ(a.get("/hello.txt").body, "hello\n");
  ServeProcess bare(program_, {"--listen", "0", "--threads", "2", engine_flag(GetParam()), root_.string()});
  EXPECT_EQ(bare.first_line().rfind("listening on 0.0.0.0:", 0), 0u) << bare.first_line();
  ASSERT_NE(bare.port(), 0);
  HttpClient b(bare.port());  // 127.0.0.1 is among "every address"
  EXPECT_EQ(b.get("/hello.txt").body, "hello\n");
}

// Bound as root, serving as another user: a file only root may read is 403.
TEST_P(ServeTest, UserDropsPrivilegesAfterBinding) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop privileges";
  if (!::getpwnam("nobody")) GTEST_SKIP() << "no user nobody here";
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);  // the user must reach the root
  put("private.txt", "private");
  ASSERT_EQ(::chmod((root_ / "private.txt").c_str(), 0600), 0);
  start({"--user", "nobody"});
  HttpClient client(port());
  EXPECT_EQ(client.get("/hello.txt").body, "hello\n");
  const HttpResponse r = client.get("/private.txt");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body.find("private"), std::string::npos);
  const std::string out = (dir_.path() / "out").string(), err = (dir_.path() / "err").string();
  EXPECT_EQ(run({program_, "--listen", "127.0.0.1:0", "--user", "no-such-user-here", engine_flag(GetParam()),
                 root_.string()},
                out, err),
            1);
  EXPECT_NE(read_plain(err).find("no-such-user-here"), std::string::npos) << read_plain(err);
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
