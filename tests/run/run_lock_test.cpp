// run/run_lock: one holder at a time, released at scope exit, a dead holder's lock taken over.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/run/run_lock.h"

namespace fs = std::filesystem;

namespace {

std::string scratch_file(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("bnl_run_lock_" + std::to_string(::getpid()));
  fs::create_directories(d);
  const fs::path f = d / name;
  fs::remove(f.string() + ".lock");
  return f.string();
}

}  // namespace

TEST(RunLock, SecondHolderIsRefusedUntilTheFirstEnds) {
  const std::string run = scratch_file("a.h5");
  {
    bnl::run::RunLock first(run);
    EXPECT_EQ(first.path(), run + ".lock");
    EXPECT_TRUE(fs::exists(first.path()));
    try {
      bnl::run::RunLock second(run);
      FAIL() << "a second lock was granted";
    } catch (const bnl::io::IoError& e) {
      EXPECT_NE(std::string(e.what()).find("in use by process " + std::to_string(::getpid()) + "@"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(run + ".lock"));
  bnl::run::RunLock again(run);
}

TEST(RunLock, ALockOfADeadProcessIsTakenOver) {
  const std::string run = scratch_file("b.h5");
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // No flock mark: judged by its pid, which no process has.
  std::ofstream(run + ".lock") << "2147483646@" << host << "\n";
  bnl::run::RunLock taken(run);
  std::ifstream in(run + ".lock");
  std::string owner;
  std::getline(in, owner);
  EXPECT_EQ(owner.rfind(std::to_string(::getpid()) + "@", 0), 0u) << owner;
}
