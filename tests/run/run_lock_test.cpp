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

TEST(RunLock, MissingParentDirectoriesAreCreated) {
  const fs::path base = fs::path(scratch_file("unused.h5")).parent_path() / "deep";
  fs::remove_all(base);
  const std::string run = (base / "a" / "b" / "c.h5").string();
  {
    bnl::run::RunLock lock(run);
    EXPECT_TRUE(fs::is_directory(base / "a" / "b"));
    EXPECT_TRUE(fs::exists(run + ".lock"));
  }
  fs::remove_all(base);
}

TEST(RunLock, ADirectoryThatCannotBeMadeIsNamedWithTheReason) {
  // A path through a regular file cannot become a directory, for root too.
  const std::string file = scratch_file("plain_file");
  std::ofstream(file) << "not a directory\n";
  const std::string run = file + "/sub/x.h5";
  try {
    bnl::run::RunLock lock(run);
    FAIL() << "a lock was made under a regular file";
  } catch (const bnl::io::IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--out " + run + ": cannot create directory '" + file + "/sub': "), std::string::npos) << msg;
    EXPECT_NE(msg.find("Not a directory"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("lock file"), std::string::npos) << msg;
  }
  fs::remove(file);
}

TEST(RunLock, AReadOnlyDirectoryIsNamedWithTheReason) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes in a read-only directory anyway";
  const fs::path dir = fs::path(scratch_file("unused.h5")).parent_path() / "ro";
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  const std::string run = (dir / "x.h5").string();
  try {
    bnl::run::RunLock lock(run);
    ADD_FAILURE() << "a lock was made in a read-only directory";
  } catch (const bnl::io::IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--out " + run + ": cannot write in directory '" + dir.string() + "': Permission denied"),
              std::string::npos)
        << msg;
  }
  fs::permissions(dir, fs::perms::owner_all);
  fs::remove_all(dir);
}
