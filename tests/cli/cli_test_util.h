#pragma once
// Running the bnlandscape binary and Debian's python from tests.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/temp_dir.h"

namespace bnl_test {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

inline Result sh(const std::string& cmd) {
  Result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline Result bnl(const std::string& args) { return sh(std::string(BNL_BINARY) + " " + args); }

/// Runs a python snippet with Debian's interpreter (h5py, numpy).
inline Result python(const std::string& code) {
  const std::string path = std::filesystem::temp_directory_path() / ("bnl_py_" + std::to_string(::getpid()) + ".py");
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(code.c_str(), f);
  std::fclose(f);
  auto r = sh(std::string(BNL_PYTHON) + " " + path);
  std::filesystem::remove(path);
  return r;
}

/// Runs `command` + `one_out` in one process, then `launch --nproc 2 -- ` + `command` + `two_out`,
/// asserting that each exits 0 (call it inside ASSERT_NO_FATAL_FAILURE: a failure ends the test).
inline void run_on_one_and_two_ranks(const std::string& command, const std::string& one_out,
                                     const std::string& two_out) {
  auto one = bnl(command + one_out);
  ASSERT_EQ(one.code, 0) << one.output;
  auto two = bnl("launch --nproc 2 -- " + command + two_out);
  ASSERT_EQ(two.code, 0) << two.output;
}

inline bool have_h5py() { return python("import h5py, numpy\n").code == 0; }

inline bool have_fashion() {
  return std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}

using TempDir = bnl_test::TempDir;

}  // namespace bnl_test
