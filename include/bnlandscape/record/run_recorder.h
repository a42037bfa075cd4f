#pragma once
/// \file
/// Turns a trainer's records into the run file's series (/train/steps, /train/epochs,
/// /train/evals), root attributes and checkpoints (schema: record/schema.h).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bnlandscape/io/run_file.h"
#include "bnlandscape/record/provenance.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/record/row_layout.h"
#include "bnlandscape/train/trainer.h"

namespace bnl::record {

/// Writes a run file as training proceeds.
class RunRecorder : public train::TrainObserver {
 public:
  /// Creates the run file (refusing an existing one unless `overwrite`) with status "running"
  /// and the provenance `prov` (its step engine and device taken from `trainer`); with an
  /// active `resume`, reopens it instead and cuts its series back to the checkpoint.
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

  /// The run file being written.
  io::RunFile& file() { return *file_; }

 private:
  std::unique_ptr<io::RunFile> file_;
  train::Trainer& trainer_;
  io::SeriesGroup* steps_ = nullptr;
  io::SeriesGroup* epochs_ = nullptr;
  io::SeriesGroup* evals_ = nullptr;
  RowLayout<train::StepRecord> step_row_;
  RowLayout<train::EpochRecord> epoch_row_;
  RowLayout<train::EvalRecord> eval_row_;
  std::int64_t last_checkpoint_ = -1;
  std::vector<train::TrainObserver*> state_observers_;
};

}  // namespace bnl::record
