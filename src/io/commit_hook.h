#pragma once
/// \file
/// A test-only hook into commits (src/io's own): the crash tests land kills and delays inside
/// a RunFile commit through the environment variable BNL_TEST_COMMIT_HOOK.

namespace bnl::io::detail {

/// Number of this process's next commit (1-based), counted across every RunFile.
long next_commit_number();

/// Called at stage "flushed", "mid-write", "written" or "renamed" of commit number `commit`:
/// with BNL_TEST_COMMIT_HOOK="<stage>:<n>[:<ms>]" set (n a commit number or "*" for every one)
/// it sleeps <ms> milliseconds there, or without <ms> kills the process with SIGKILL. Inert
/// when unset (read once per process).
void at_commit_stage(const char* stage, long commit);

}  // namespace bnl::io::detail
