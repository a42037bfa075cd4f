#pragma once
// The small TorchScript modules of the torchscript tests (tests/models/scripts/
// make_torchscript_models.py lists them), written once per test process by BNL_PYTHON into a
// scratch directory. Include after gtest; the area's test target defines BNL_PYTHON and
// BNL_SOURCE_DIR.

#include <cstdio>
#include <memory>
#include <string>

#include "common/temp_dir.h"

namespace bnl_test {

/// The directory holding the generated files, or "" when BNL_PYTHON has no torch
/// (`why` says so; the caller skips).
inline std::string torchscript_dir(std::string* why) {
  static std::unique_ptr<TempDir> dir;
  static std::string error;
  if (!dir && error.empty()) {
    auto d = std::make_unique<TempDir>("bnl_torchscript");
    const std::string cmd = std::string(BNL_PYTHON) + " " + BNL_SOURCE_DIR +
                            "/tests/models/scripts/make_torchscript_models.py " + d->path.string() + " 2>&1";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) out += buf;
      const int rc = pclose(p);
      if (rc == 0)
        dir = std::move(d);
      else if (out.find("No module named 'torch'") != std::string::npos)
        error = std::string(BNL_PYTHON) + " has no torch (python3-torch, scripts/install-deps.sh)";
      else
        error = "FAILED: " + cmd + ": " + out;
    } else {
      error = "FAILED: popen " + cmd;
    }
  }
  if (why) *why = error;
  return dir ? dir->path.string() : "";
}

}  // namespace bnl_test

/// Sets `var` to the directory of the generated modules; skips the test when python3 has no
/// torch, fails it when the script fails.
#define BNL_TORCHSCRIPT_DIR(var)                                          \
  std::string var;                                                        \
  {                                                                       \
    std::string why_;                                                     \
    var = bnl_test::torchscript_dir(&why_);                               \
    if (var.empty() && why_.rfind("FAILED", 0) == 0) FAIL() << why_;      \
    if (var.empty()) GTEST_SKIP() << why_;                                \
  }
