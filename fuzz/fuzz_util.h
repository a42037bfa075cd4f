// Helpers shared by the libFuzzer harnesses: a per-process scratch file and a loud abort for
// a broken invariant (libFuzzer records the input that triggered it).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bnl::fuzz {

/// Scratch directory: $BNL_FUZZ_TMPDIR, else /dev/shm when writable (no disk I/O per run), else
/// $TMPDIR, else /tmp.
inline std::string scratch_dir() {
  if (const char* d = std::getenv("BNL_FUZZ_TMPDIR")) return d;
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  if (const char* d = std::getenv("TMPDIR")) return d;
  return "/tmp";
}

/// Scratch files made by this process; removed when it exits normally (libFuzzer's
/// -max_total_time and -runs end with exit()).
struct ScratchFiles {
  std::vector<std::string> paths;
  ~ScratchFiles() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

/// A file name unique to this process, e.g. "/dev/shm/bnl-fuzz-1234-images.gz".
inline std::string scratch_file(const std::string& tag) {
  static ScratchFiles files;
  std::string path = scratch_dir() + "/bnl-fuzz-" + std::to_string(getpid()) + "-" + tag;
  bool known = false;
  for (const std::string& p : files.paths) known = known || p == path;
  if (!known) files.paths.push_back(path);
  return path;
}

/// Writes `bytes` to `path`, replacing it; aborts when that fails (a harness problem, not a
/// finding, but it must not pass silently).
inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz harness: cannot write scratch file %s\n", path.c_str());
    std::abort();
  }
}

[[noreturn]] inline void invariant_failed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace bnl::fuzz

/// Aborts (a libFuzzer finding) when `cond` is false; active in every build type.
#define FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::bnl::fuzz::invariant_failed(__FILE__, __LINE__, #cond))
