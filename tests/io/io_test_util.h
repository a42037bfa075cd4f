#pragma once
// Helpers shared by the io tests: a scratch directory and running Python (h5py) checks.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/temp_dir.h"

namespace bnl::io::test {

using TempDir = bnl_test::TempDir;

/// Exit status and combined stdout/stderr of a Python run.
struct PyResult {
  int rc = -1;
  std::string out;
};

/// Runs `script` with the python that has h5py (BNL_PYTHON), passing `args` (already quoted
/// for the shell), with `env` ("NAME=value ...") added to its environment.
inline PyResult run_python(const TempDir& dir, const std::string& script,
                           const std::string& args, const std::string& env = "") {
  const std::string script_path = dir.file("check.py");
  {
    std::ofstream f(script_path);
    f << script;
  }
  const std::string cmd =
      "env " + env + " '" + std::string(BNL_PYTHON) + "' '" + script_path + "' " + args + " 2>&1";
  PyResult r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Runs `script` with `args` (run_python) and expects it to exit with status 0 having printed
/// "OK" (the h5py checks' last line).
inline void expect_python_ok(const TempDir& dir, const std::string& script, const std::string& args) {
  const auto r = run_python(dir, script, args);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
}

/// Whether BNL_PYTHON can import h5py.
inline bool have_h5py() {
  const std::string cmd = std::string("'") + BNL_PYTHON + "' -c 'import h5py' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace bnl::io::test

/// Skips the current test when h5py is not importable.
#define BNL_REQUIRE_H5PY()                                                   \
  do {                                                                       \
    if (!::bnl::io::test::have_h5py()) GTEST_SKIP() << BNL_PYTHON " lacks h5py"; \
  } while (0)
