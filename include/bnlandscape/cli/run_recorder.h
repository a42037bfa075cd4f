#pragma once
/// \file
/// Turns a trainer's records into the run file's series (/train/steps, /train/epochs,
/// /train/evals), root attributes and checkpoints (schema: docs/hdf5_schema.md).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bnlandscape/data/dataset.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::cli {

/// Provenance written as root attributes of every run file.
struct RunProvenance {
  std::string config_toml;
  std::uint64_t seed = 0;
  int intra_op_threads = 1;
  int blas_threads = 1;
  std::vector<data::FileDigest> data_files;
};

/// A run continued from the newest checkpoint of its file (--resume).
struct ResumeInfo {
  bool active = false;
  std::int64_t step = 0;  ///< the checkpoint's step: updates already done
  std::vector<std::pair<std::string, torch::Tensor>> weights;  ///< parameters and buffers
  std::vector<std::pair<std::string, torch::Tensor>> state;    ///< its _state group
  std::string group;                                           ///< e.g. "/checkpoints/step_0000050"
  std::vector<std::string> unreadable_groups;  ///< newer checkpoints passed over as unreadable
  /// The state tensor `name`, or an undefined tensor.
  torch::Tensor find_state(const std::string& name) const;
};

/// Reads the newest checkpoint of `path` that reads back in full for a resume, passing over
/// (with a warning) newer ones that do not; a file without a readable one is a ConfigError.
ResumeInfo read_resume_point(const std::string& path);

/// "2026-11-27T15:29:23Z".
std::string iso8601_utc_now();

/// Writes a run file as training proceeds.
class RunRecorder : public train::TrainObserver {
 public:
  /// Creates the run file (refusing an existing one unless `overwrite`) with status "running";
  /// with an active `resume`, reopens it instead and cuts its series back to the checkpoint.
  RunRecorder(const std::string& path, bool overwrite, const RunProvenance& prov,
              train::Trainer& trainer, const ResumeInfo* resume = nullptr);

  /// Observers whose save_state goes into every checkpoint next to the trainer's.
  void add_state_observer(train::TrainObserver* o) { state_observers_.push_back(o); }

  void on_step(const train::StepRecord& r) override;
  void on_eval(const train::EvalRecord& r) override;
  void on_epoch(const train::EpochRecord& r) override;
  void on_flush_point(std::int64_t step) override;
  void on_checkpoint(std::int64_t step) override;

  /// Writes status, diverged_at_step and end_time and closes the file.
  void finish(const train::TrainResult& result);
  /// Marks the run failed (best effort; never throws) and closes the file.
  void fail() noexcept;

  io::RunFile& file() { return *file_; }

 private:
  std::unique_ptr<io::RunFile> file_;
  train::Trainer& trainer_;
  io::SeriesGroup* steps_ = nullptr;
  io::SeriesGroup* epochs_ = nullptr;
  io::SeriesGroup* evals_ = nullptr;
  std::int64_t last_checkpoint_ = -1;
  std::vector<train::TrainObserver*> state_observers_;
};

/// Calls every observer in order.
class ObserverList : public train::TrainObserver {
 public:
  void add(train::TrainObserver* o) { list_.push_back(o); }
  void on_start(std::int64_t total) override { for (auto* o : list_) o->on_start(total); }
  void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) override {
    for (auto* o : list_) o->before_update(step, x, y);
  }
  void on_step(const train::StepRecord& r) override { for (auto* o : list_) o->on_step(r); }
  void on_eval(const train::EvalRecord& r) override { for (auto* o : list_) o->on_eval(r); }
  void on_epoch(const train::EpochRecord& r) override { for (auto* o : list_) o->on_epoch(r); }
  void on_flush_point(std::int64_t s) override { for (auto* o : list_) o->on_flush_point(s); }
  void on_checkpoint(std::int64_t s) override { for (auto* o : list_) o->on_checkpoint(s); }
  bool stop_requested() override {
    for (auto* o : list_)
      if (o->stop_requested()) return true;
    return false;
  }

 private:
  std::vector<train::TrainObserver*> list_;
};

}  // namespace bnl::cli
