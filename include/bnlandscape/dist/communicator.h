#pragma once
/// \file
/// A process group for probes split across processes: libtorch's c10d ProcessGroupGloo over a
/// rendezvous store (TCPStore between processes and machines, FileStore for ranks as threads
/// in tests). Probes use one operation, the in-place mean of a tensor over the ranks; the
/// c10d headers stay inside the .cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <torch/types.h>

#include "bnlandscape/core/error.h"
#include "bnlandscape/dist/environment.h"

namespace bnl::dist {

/// A failure to reach or to keep talking to the other ranks (timeout, a peer that exited).
using DistError = bnl::DistError;

/// One rank's membership of a Gloo process group.
class Communicator {
 public:
  /// Joins the group of `env` (world_size > 1): rank 0 serves a TCPStore at
  /// master_addr:master_port, every rank connects to it and then to each other. Throws
  /// DistError when the others are not all there within `timeout`; the same timeout bounds
  /// every later collective.
  static std::unique_ptr<Communicator> connect(const DistEnv& env, std::chrono::milliseconds timeout);

  /// Joins a group of `world_size` ranks that meet through the file `path` (c10d FileStore),
  /// e.g. ranks as threads of one test process. Same errors as connect().
  static std::unique_ptr<Communicator> connect_file(const std::string& path, int rank, int world_size,
                                                    std::chrono::milliseconds timeout);

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  /// t <- (sum over ranks of t) / world_size, in place, one all-reduce. t must be a dense CPU
  /// floating tensor (made contiguous inside if it is not); every rank must call this with the
  /// same shape and dtype in the same order. Throws DistError on timeout or a lost peer.
  void average(torch::Tensor& t);

  /// t <- sum over ranks of t, in place, one all-reduce, with average()'s requirements and
  /// errors. Adding zeros is exact, so a tensor that is zero on every rank but one arrives on
  /// all of them bit for bit (a broadcast), and so does a grid whose cells each rank fills
  /// only where it computed them (a gather).
  void sum(torch::Tensor& t);

  /// Waits until every rank has reached it. Throws DistError like average().
  void barrier();

  /// All-reduces so far (average() and sum() calls).
  std::int64_t allreduce_count() const { return allreduce_count_; }
  /// Wall seconds spent inside them (waiting for peers included).
  double allreduce_seconds() const { return allreduce_seconds_; }

 private:
  struct Impl;
  Communicator(std::unique_ptr<Impl> impl, int rank, int world_size, std::chrono::milliseconds timeout);

  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int world_size_ = 1;
  std::chrono::milliseconds timeout_;
  std::int64_t allreduce_count_ = 0;
  double allreduce_seconds_ = 0;
};

}  // namespace bnl::dist
