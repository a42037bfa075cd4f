#include "atomic_replace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "commit_hook.h"
#include "h5_util.h"

namespace bnl::io::detail {
namespace {

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

}  // namespace

std::string errno_text(int err) { return std::strerror(err); }

void replace_file(const std::string& path, const std::vector<char>& image, bool exclusive,
                  bool durable, long commit) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& why) {
    ::unlink(tmp.c_str());
    throw Failure(why);
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail("creating " + in_quotes(tmp) + ": " + errno_text(errno));
  auto write_all = [&](const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const int err = errno;
        ::close(fd);
        fail("writing " + in_quotes(tmp) + ": " + errno_text(err));
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  // In two halves, so that the test hook (and a kill) can land in the middle.
  const std::size_t half = image.size() / 2;
  write_all(image.data(), half);
  at_commit_stage("mid-write", commit);
  write_all(image.data() + half, image.size() - half);
  if (durable && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    fail("syncing " + in_quotes(tmp) + ": " + errno_text(err));
  }
  if (::close(fd) != 0) fail("closing " + in_quotes(tmp) + ": " + errno_text(errno));
  at_commit_stage("written", commit);
  bool placed = false;
  if (exclusive) {
    if (::link(tmp.c_str(), path.c_str()) == 0) {
      ::unlink(tmp.c_str());
      placed = true;
    } else {
      const int err = errno;
      if (err == EEXIST) fail("file exists (--overwrite replaces it)");
      // Filesystems without hard links: the caller checked that the path was free; rename.
      const bool no_links = err == EPERM || err == EOPNOTSUPP || err == ENOSYS || err == EMLINK;
      if (!no_links) fail("linking: " + errno_text(err));
      if (::access(path.c_str(), F_OK) == 0) fail("file exists (--overwrite replaces it)");
    }
  }
  if (!placed && ::rename(tmp.c_str(), path.c_str()) != 0) {
    fail("renaming " + in_quotes(tmp) + ": " + errno_text(errno));
  }
  if (durable) {
    const auto parent = std::filesystem::path(path).parent_path();
    const int dfd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  at_commit_stage("renamed", commit);
}

}  // namespace bnl::io::detail
