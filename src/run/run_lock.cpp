#include "bnlandscape/run/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "bnlandscape/io/run_file.h"

namespace bnl::run {
namespace {

std::string hostname() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

/// The directory `run_file` goes into, as the user would name it ("." for a bare name).
std::string directory_of(const std::string& run_file) {
  const auto parent = std::filesystem::path(run_file).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

void prepare_run_directory(const std::string& run_file) {
  const std::string dir = directory_of(run_file);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // create_directories reports an existing directory as success; a path through a regular
  // file is ENOTDIR, a parent we may not write EACCES.
  if (ec) throw io::IoError("--out " + run_file + ": cannot create directory '" + dir + "': " + ec.message());
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw io::IoError("--out " + run_file + ": cannot write in directory '" + dir + "': " + std::strerror(errno));
}

// A holder also keeps an flock on its lock file, and says so in it (" flock"): the kernel drops
// that lock when the holder dies, however it dies, so a contender tells a dead holder from a
// live one even when the holder's pid has been reused by another process (a kill -9 followed
// by many new processes). Lock files without the mark (older versions, filesystems without
// flock) are judged by whether their pid is alive.
constexpr const char* kFlockMark = " flock";

RunLock::RunLock(const std::string& run_file) : path_(run_file + ".lock") {
  prepare_run_directory(run_file);
  const std::string me = std::to_string(getpid()) + "@" + hostname();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const bool flocked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
      const std::string line = me + (flocked ? kFlockMark : "") + "\n";
      const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      if (!ok) {
        const int err = errno;
        ::unlink(path_.c_str());
        ::close(fd);
        throw io::IoError(path_ + ": writing the lock file failed: " + std::strerror(err));
      }
      fd_ = fd;
      held_ = true;
      return;
    }
    // The directory passed access() yet refuses a new file (a read-only mount, an ACL, a full
    // disk): the run file could not be created there either, so that is what is reported.
    if (errno != EEXIST)
      throw io::IoError("--out " + run_file + ": cannot write in directory '" + directory_of(run_file) +
                        "': " + std::strerror(errno));
    std::ifstream in(path_);
    std::string owner;
    std::getline(in, owner);
    bool judged = false, alive = false;
    const auto mark = owner.find(kFlockMark);
    if (mark != std::string::npos) {
      owner.erase(mark);
      const int probe = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (probe >= 0) {
        if (::flock(probe, LOCK_EX | LOCK_NB) == 0) {
          judged = true;  // nobody holds it: its holder is gone
        } else if (errno == EWOULDBLOCK) {
          judged = alive = true;
        }
        ::close(probe);
      }
    }
    const auto at = owner.find('@');
    if (!judged) {
      const long pid = at == std::string::npos ? 0 : std::atol(owner.substr(0, at).c_str());
      const std::string host = at == std::string::npos ? "" : owner.substr(at + 1);
      alive = pid > 0 && (host != hostname() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
    }
    if (alive || attempt > 0)
      throw io::IoError(run_file + ": in use by process " + (owner.empty() ? "unknown" : owner) + " (lock file " +
                        path_ + "); if that process is gone, remove the lock file");
    // A lock left by a process that no longer exists: take it over.
    ::unlink(path_.c_str());
  }
}

RunLock::~RunLock() {
  if (held_) ::unlink(path_.c_str());
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace bnl::run
