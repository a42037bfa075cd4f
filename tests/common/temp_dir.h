#pragma once
// The scratch directory of every test area (tests/<area>/ include it as "common/temp_dir.h").

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace bnl_test {

/// A fresh directory under the system temp dir (mkdtemp: tests running in parallel never share
/// one), removed with its contents at scope exit.
class TempDir {
 public:
  /// Creates <temp dir>/<prefix>_XXXXXX.
  explicit TempDir(const std::string& prefix = "bnl_test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Path of `name` inside the directory.
  std::string file(const std::string& name) const { return (path / name).string(); }
  /// The same as file(name).
  std::string operator/(const std::string& name) const { return file(name); }

  /// The directory itself.
  std::filesystem::path path;
};

}  // namespace bnl_test
