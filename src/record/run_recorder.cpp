#include "bnlandscape/record/run_recorder.h"

#include <algorithm>

#include "bnlandscape/models/classifier.h"
#include "bnlandscape/models/scale_invariant.h"
#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/train/config.h"
#include "bnlandscape/train/device.h"

namespace bnl::record {
namespace {

using namespace names;
using train::EpochRecord;
using train::EvalRecord;
using train::StepRecord;

const std::vector<ColumnGetter<StepRecord>>& step_getters() {
  static const std::vector<ColumnGetter<StepRecord>> g{
      {kStep, [](const StepRecord& r) { return one(double(r.step)); }},
      {kEpoch, [](const StepRecord& r) { return one(double(r.epoch)); }},
      {kLoss, [](const StepRecord& r) { return one(r.loss); }},
      {kAcc, [](const StepRecord& r) { return one(r.acc); }},
      {kGradNorm, [](const StepRecord& r) { return one(r.grad_norm); }},
      {kLr, [](const StepRecord& r) { return one(r.lr); }},
      {kWallTime, [](const StepRecord& r) { return one(r.wall_time); }},
      {kLayerGradNorm, [](const StepRecord& r) { return r.layer_grad_norm; }},
      {kLayerWeightNorm, [](const StepRecord& r) { return r.layer_weight_norm; }},
  };
  return g;
}

const std::vector<ColumnGetter<EpochRecord>>& epoch_getters() {
  static const std::vector<ColumnGetter<EpochRecord>> g{
      {kEpoch, [](const EpochRecord& r) { return one(double(r.epoch)); }},
      {kStep, [](const EpochRecord& r) { return one(double(r.step)); }},
      {kTrainLoss, [](const EpochRecord& r) { return one(r.train_loss); }},
      {kTrainAcc, [](const EpochRecord& r) { return one(r.train_acc); }},
      {kTestLoss, [](const EpochRecord& r) { return one(r.test_loss); }},
      {kTestAcc, [](const EpochRecord& r) { return one(r.test_acc); }},
      {kGradNormMean, [](const EpochRecord& r) { return one(r.grad_norm_mean); }},
      {kWallTime, [](const EpochRecord& r) { return one(r.wall_time); }},
  };
  return g;
}

const std::vector<ColumnGetter<EvalRecord>>& eval_getters() {
  static const std::vector<ColumnGetter<EvalRecord>> g{
      {kStep, [](const EvalRecord& r) { return one(double(r.step)); }},
      {kTestLoss, [](const EvalRecord& r) { return one(r.test_loss); }},
      {kTestAcc, [](const EvalRecord& r) { return one(r.test_acc); }},
  };
  return g;
}

}  // namespace

RunRecorder::RunRecorder(const std::string& path, bool overwrite, const RunProvenance& prov,
                         train::Trainer& trainer, const ResumeInfo* resume)
    : file_(resume && resume->active ? io::RunFile::open_existing(path) : io::RunFile::create(path, overwrite)),
      trainer_(trainer) {
  auto& f = *file_;
  const bool resuming = resume && resume->active;
  // Steps and probes before the checkpoint were done; the evaluation at its step came before
  // it; an epoch ending at its step is recorded after it, so it is redone, unless the
  // checkpoint is the one a run's end wrote after its last epoch (ResumeInfo::epoch_recorded).
  auto series = [&](const char* g, const std::vector<io::ColumnSpec>& cols, std::int64_t keep_below) -> io::SeriesGroup& {
    if (resuming && f.exists(g)) return f.reopen_series(g, cols, kStep, keep_below);
    return f.add_series(g, cols);
  };
  const std::int64_t S = resuming ? resume->step : 0;
  if (resuming) {
    for (const auto& g : resume->unreadable_groups) f.remove(g);
    last_checkpoint_ = S;
    f.set_attr(kStatus, std::string("running"));
    f.set_attr(kResumedAtStep, S);
    f.set_attr(kEndTime, std::string(""));
    // The continuing command's configuration: the stored one, but for an --epochs it may raise.
    f.set_attr(kConfigToml, prov.config_toml);
  } else {
    RunProvenance p = prov;
    p.kind = ProvenanceKind::Training;
    p.step_engine = trainer.step_engine();
    p.device = trainer.device().str();
    p.device_name = train::device_name(trainer.device());
    write_provenance(f, p);
  }

  const auto& layers = trainer.layer_names();
  auto step_cols = schema::series_columns(schema::group(kTrainSteps), {{"L", std::int64_t(layers.size())}});
  // A run file written before layer_weight_norm existed is resumed without it.
  const bool weight_norms = !(resuming && f.exists(kTrainSteps) &&
                              !f.exists(std::string(kTrainSteps) + "/" + kLayerWeightNorm));
  if (!weight_norms)
    step_cols.erase(std::remove_if(step_cols.begin(), step_cols.end(),
                                   [](const io::ColumnSpec& c) { return c.name == kLayerWeightNorm; }),
                    step_cols.end());
  step_row_ = RowLayout<StepRecord>(step_cols, step_getters());
  steps_ = &series(kTrainSteps, step_cols, S);
  steps_->set_column_attr(kLayerGradNorm, kLayers, layers);
  steps_->set_column_attr(kLayerGradNorm, kDims, std::string("step,layer"));
  if (weight_norms) {
    steps_->set_column_attr(kLayerWeightNorm, kLayers, layers);
    steps_->set_column_attr(kLayerWeightNorm, kDims, std::string("step,layer"));
    std::vector<std::string> invariant;
    for (const auto& layer : models::scale_invariant_layers(trainer.model())) invariant.push_back(layer.name);
    steps_->set_column_attr(kLayerWeightNorm, kScaleInvariant, invariant);
  }
  const auto epoch_cols = schema::series_columns(schema::group(kTrainEpochs));
  epoch_row_ = RowLayout<EpochRecord>(epoch_cols, epoch_getters());
  epochs_ = &series(kTrainEpochs, epoch_cols, resuming && resume->epoch_recorded() ? S + 1 : S);
  if (trainer.config().eval_every > 0) {
    const auto eval_cols = schema::series_columns(schema::group(kTrainEvals));
    eval_row_ = RowLayout<EvalRecord>(eval_cols, eval_getters());
    evals_ = &series(kTrainEvals, eval_cols, S + 1);
  }
  f.flush();
}

void RunRecorder::on_step(const StepRecord& r) { steps_->append(step_row_.row(r)); }

void RunRecorder::on_eval(const EvalRecord& r) {
  if (evals_) evals_->append(eval_row_.row(r));
}

void RunRecorder::on_epoch(const EpochRecord& r) { epochs_->append(epoch_row_.row(r)); }

void RunRecorder::on_flush_point(std::int64_t) { file_->flush_if_due(); }

void RunRecorder::on_checkpoint(std::int64_t step) {
  if (step == last_checkpoint_) return;
  auto state = trainer_.resume_state();
  for (auto* o : state_observers_) o->save_state(state);
  file_->write_checkpoint(step, trainer_.named_state(), state);
  last_checkpoint_ = step;
}

void RunRecorder::finish(const train::TrainResult& result) {
  file_->set_attr(kStatus, std::string(train::status_name(result.status)));
  file_->set_attr(kDivergedAtStep, result.diverged_at_step);
  file_->set_attr(kEndTime, iso8601_utc_now());
  // The final commit is not counted: it is not part of the training time.
  const auto cost = file_->commit_stats();
  file_->set_attr(kIoCommits, cost.commits);
  file_->set_attr(kIoCommitBytes, cost.bytes);
  file_->set_attr(kIoCommitSeconds, cost.seconds);
  file_->close();
}

void RunRecorder::fail() noexcept {
  try {
    file_->set_attr(kStatus, std::string("failed"));
    file_->set_attr(kEndTime, iso8601_utc_now());
    file_->close();
  } catch (...) {
    // The file may be what failed; the error that got us here is already being reported.
  }
}

}  // namespace bnl::record
