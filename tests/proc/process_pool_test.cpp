// sweep/process_pool: children run with their logs, at most `jobs` at once, and report how
// they ended.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <csignal>
#include <map>

#include <unistd.h>

#include "bnlandscape/proc/process_pool.h"

namespace fs = std::filesystem;
using bnl::proc::ChildExit;
using bnl::proc::ChildSpec;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("bnl_pool_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(ProcessPool, RunsEveryTaskAndReportsExits) {
  const fs::path dir = fresh_dir("exits");
  std::map<std::size_t, ChildExit> ends;
  std::vector<std::size_t> order;
  bnl::proc::PoolHooks h;
  h.prepare = [&](std::size_t i) -> std::optional<ChildSpec> {
    if (i == 2) return std::nullopt;  // a skipped task starts nothing
    const std::string script = "echo first; echo line " + std::to_string(i) + "; exit " + std::to_string(i);
    return ChildSpec{{"/bin/sh", "-c", script}, (dir / (std::to_string(i) + ".log")).string()};
  };
  h.spawn_failed = [&](std::size_t, const std::string& e) { ADD_FAILURE() << e; };
  h.started = [&](std::size_t i, const ChildSpec&) { order.push_back(i); };
  h.finished = [&](std::size_t i, const ChildExit& how) { ends[i] = how; };
  h.interrupted = [&](int, std::size_t) { ADD_FAILURE() << "no signal was sent"; };
  EXPECT_EQ(bnl::proc::run_pool({0, 1, 2, 3}, 2, h), 0u);
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 3}));
  ASSERT_EQ(ends.size(), 3u);
  for (std::size_t i : {0u, 1u, 3u}) {
    EXPECT_TRUE(ends[i].exited);
    EXPECT_EQ(ends[i].status, static_cast<int>(i));
    EXPECT_EQ(ends[i].pool_signal, 0);
    EXPECT_EQ(bnl::proc::last_line((dir / (std::to_string(i) + ".log")).string()), "line " + std::to_string(i));
  }
  fs::remove_all(dir);
}

TEST(ProcessPool, ReportsAKillingSignal) {
  const fs::path dir = fresh_dir("signal");
  ChildExit end;
  bnl::proc::PoolHooks h;
  h.prepare = [&](std::size_t) -> std::optional<ChildSpec> {
    return ChildSpec{{"/bin/sh", "-c", "kill -9 $$"}, (dir / "k.log").string()};
  };
  h.spawn_failed = [&](std::size_t, const std::string& e) { ADD_FAILURE() << e; };
  h.started = [](std::size_t, const ChildSpec&) {};
  h.finished = [&](std::size_t, const ChildExit& how) { end = how; };
  h.interrupted = [](int, std::size_t) {};
  bnl::proc::run_pool({0}, 1, h);
  EXPECT_FALSE(end.exited);
  EXPECT_EQ(end.status, 9);
  fs::remove_all(dir);
}

TEST(ProcessPool, ASpawnFailureIsReported) {
  const fs::path dir = fresh_dir("spawn");
  std::string error;
  bnl::proc::PoolHooks h;
  h.prepare = [&](std::size_t) -> std::optional<ChildSpec> {
    return ChildSpec{{(dir / "no-such-program").string()}, (dir / "x.log").string()};
  };
  h.spawn_failed = [&](std::size_t, const std::string& e) { error = e; };
  h.started = [](std::size_t, const ChildSpec&) {};
  h.finished = [](std::size_t, const ChildExit&) {};
  h.interrupted = [](int, std::size_t) {};
  EXPECT_EQ(bnl::proc::run_pool({0}, 1, h), 0u);
  EXPECT_FALSE(error.empty());
  fs::remove_all(dir);
}

TEST(ProcessPool, LastLineSkipsBlankLinesAndCutsLongOnes) {
  const fs::path dir = fresh_dir("last");
  const fs::path f = dir / "log";
  std::ofstream(f) << "a\r\nb  \n \t\n\n";
  EXPECT_EQ(bnl::proc::last_line(f.string()), "b  ");
  std::ofstream(f) << std::string(500, 'x') << "\n";
  EXPECT_EQ(bnl::proc::last_line(f.string()), std::string(400, 'x') + "...");
  EXPECT_EQ(bnl::proc::last_line((dir / "missing").string()), "");
  EXPECT_GE(bnl::proc::available_cpus(), 1);
  fs::remove_all(dir);
}

TEST(ProcessPool, ASignalStopsStartingAndReachesTheChildren) {
  const fs::path dir = fresh_dir("interrupt");
  std::vector<ChildExit> ends;
  int seen_signal = 0;
  std::size_t seen_running = 0;
  bnl::proc::PoolHooks h;
  h.prepare = [&](std::size_t i) -> std::optional<ChildSpec> {
    // Task 0 signals the pool (its parent) while the pool waits; every child then sleeps.
    const std::string script = i == 0 ? "sleep 0.3; kill -TERM $PPID; exec sleep 30" : "exec sleep 30";
    return ChildSpec{{"/bin/sh", "-c", script}, (dir / (std::to_string(i) + ".log")).string()};
  };
  h.spawn_failed = [&](std::size_t, const std::string& e) { ADD_FAILURE() << e; };
  h.started = [](std::size_t, const ChildSpec&) {};
  h.finished = [&](std::size_t, const ChildExit& how) { ends.push_back(how); };
  h.interrupted = [&](int sig, std::size_t running) {
    seen_signal = sig;
    seen_running = running;
  };
  EXPECT_EQ(bnl::proc::run_pool({0, 1, 2, 3}, 2, h), 2u);  // tasks 2 and 3 never start
  EXPECT_EQ(seen_signal, SIGTERM);
  EXPECT_EQ(seen_running, 2u);
  ASSERT_EQ(ends.size(), 2u);
  for (const auto& e : ends) {
    EXPECT_FALSE(e.exited);
    EXPECT_EQ(e.status, SIGTERM);
    EXPECT_EQ(e.pool_signal, SIGTERM);
    EXPECT_LT(e.seconds, 20.0);
  }
  fs::remove_all(dir);
}
