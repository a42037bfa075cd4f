#include "bnlandscape/cli/run_recorder.h"

#include <unistd.h>

#include <ctime>
#include <iostream>

#include <torch/version.h>

#include "bnlandscape/cli/build_info.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/train/config.h"
#include "bnlandscape/train/device.h"

namespace bnl::cli {
namespace {

using io::ColumnSpec;
using io::ColumnType;

std::vector<double> one(double v) { return {v}; }

}  // namespace

std::string iso8601_utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

torch::Tensor ResumeInfo::find_state(const std::string& name) const {
  for (const auto& [k, t] : state)
    if (k == name) return t;
  return {};
}

ResumeInfo read_resume_point(const std::string& path) {
  const auto groups = io::list_checkpoints(path);
  if (groups.empty())
    throw train::ConfigError("--resume " + path + ": expected a checkpoint to continue from, got none (the run "
                             "stopped before its first checkpoint; start it again, with --checkpoint-every N)");
  ResumeInfo r;
  r.active = true;
  std::string why;
  // Newest first; a checkpoint that does not read back (a file damaged outside bnlandscape, or
  // written before commits were atomic) is passed over for the one before it.
  for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
    try {
      r.weights = io::read_tensor_group(path, *g);
      r.state = io::read_tensor_group(path, *g + "/_state");
      const auto step = r.find_state("step");
      if (!step.defined()) throw io::IoError(*g + "/_state has no 'step'");
      r.step = step.reshape(-1)[0].item<std::int64_t>();
      r.group = *g;
      return r;
    } catch (const io::IoError& e) {
      std::cerr << "bnlandscape: warning: --resume " << path << ": passing over unreadable checkpoint " << *g << " ("
                << e.what() << ")\n";
      r.unreadable_groups.push_back(*g);
      why = e.what();
    }
  }
  throw train::ConfigError("--resume " + path + ": expected a readable checkpoint, got none of " +
                           std::to_string(groups.size()) + " (last error: " + why + ")");
}

RunRecorder::RunRecorder(const std::string& path, bool overwrite, const RunProvenance& prov,
                         train::Trainer& trainer, const ResumeInfo* resume)
    : file_(resume && resume->active ? io::RunFile::open_existing(path) : io::RunFile::create(path, overwrite)),
      trainer_(trainer) {
  auto& f = *file_;
  const bool resuming = resume && resume->active;
  // Steps and probes before the checkpoint were done; the evaluation at its step came before
  // it; an epoch ending at its step is recorded after it, so it is redone.
  auto series = [&](const std::string& g, const std::vector<ColumnSpec>& cols, std::int64_t keep_below) -> io::SeriesGroup& {
    if (resuming && f.exists(g)) return f.reopen_series(g, cols, "step", keep_below);
    return f.add_series(g, cols);
  };
  const std::int64_t S = resuming ? resume->step : 0;
  if (resuming) {
    for (const auto& g : resume->unreadable_groups) f.remove(g);
    last_checkpoint_ = S;
    f.set_attr("status", std::string("running"));
    f.set_attr("resumed_at_step", S);
    f.set_attr("end_time", std::string(""));
  }
  if (!resuming) {
  f.set_attr("status", std::string("running"));
  f.set_attr("diverged_at_step", std::int64_t{-1});
  f.set_attr("config_toml", prov.config_toml);
  f.set_attr("bnlandscape_version", std::string(BNL_VERSION));
  f.set_attr("git_revision", std::string(git_revision()));
  f.set_attr("torch_version", std::string(TORCH_VERSION));
  f.set_attr("blas", train::blas_description());
  f.set_attr("intra_op_threads", std::int64_t{prov.intra_op_threads});
  f.set_attr("blas_threads", std::int64_t{prov.blas_threads});
  f.set_attr("step_engine", std::string(trainer.step_engine()));
  f.set_attr("device", trainer.device().str());
  f.set_attr("device_name", train::device_name(trainer.device()));
  f.set_attr("torch_build", train::torch_build());
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  f.set_attr("host", std::string(host));
  f.set_attr("seed", static_cast<std::int64_t>(prov.seed));
  f.set_attr("start_time", iso8601_utc_now());
  f.set_attr("end_time", std::string(""));
  std::string files;
  for (const auto& d : prov.data_files) files += d.path + " " + d.sha256 + "\n";
  f.set_attr("data_files", files);
  }

  const auto& layers = trainer.layer_names();
  steps_ = &series("/train/steps", {
      {"step", ColumnType::Int64, {}, "1", "0-based index of the update"},
      {"epoch", ColumnType::Int64, {}, "1", "0-based epoch of the update"},
      {"loss", ColumnType::Float64, {}, "nats", "mean cross-entropy of the mini-batch before the update"},
      {"acc", ColumnType::Float64, {}, "1", "mini-batch accuracy from the pre-update logits"},
      {"grad_norm", ColumnType::Float64, {}, "1", "global L2 norm of all parameter gradients, after backward, before the update"},
      {"lr", ColumnType::Float64, {}, "1", "learning rate of the update"},
      {"wall_time", ColumnType::Float64, {}, "s", "seconds since the run started"},
      {"layer_grad_norm", ColumnType::Float64, {static_cast<std::int64_t>(layers.size())}, "1",
       "L2 norm of each layer's parameter gradients (layers in the attribute 'layers')"},
  }, S);
  steps_->set_column_attr("layer_grad_norm", "layers", layers);
  steps_->set_column_attr("layer_grad_norm", "dims", std::string("step,layer"));
  epochs_ = &series("/train/epochs", {
      {"epoch", ColumnType::Int64, {}, "1", "0-based epoch"},
      {"step", ColumnType::Int64, {}, "1", "updates done at the end of the epoch"},
      {"train_loss", ColumnType::Float64, {}, "nats", "mean of the epoch's mini-batch losses"},
      {"train_acc", ColumnType::Float64, {}, "1", "mean of the epoch's mini-batch accuracies"},
      {"test_loss", ColumnType::Float64, {}, "nats", "mean cross-entropy on the test set, evaluation mode"},
      {"test_acc", ColumnType::Float64, {}, "1", "accuracy on the test set, evaluation mode"},
      {"grad_norm_mean", ColumnType::Float64, {}, "1", "mean of the epoch's per-step global gradient norms"},
      {"wall_time", ColumnType::Float64, {}, "s", "seconds the epoch took, evaluation included"},
  }, S);
  if (trainer.config().eval_every > 0) {
    evals_ = &series("/train/evals", {
        {"step", ColumnType::Int64, {}, "1", "updates done before the evaluation"},
        {"test_loss", ColumnType::Float64, {}, "nats", "mean cross-entropy on the test set, evaluation mode"},
        {"test_acc", ColumnType::Float64, {}, "1", "accuracy on the test set, evaluation mode"},
    }, S + 1);
  }
  f.flush();
}

void RunRecorder::on_step(const train::StepRecord& r) {
  steps_->append({one(double(r.step)), one(double(r.epoch)), one(r.loss), one(r.acc), one(r.grad_norm),
                  one(r.lr), one(r.wall_time), r.layer_grad_norm});
}

void RunRecorder::on_eval(const train::EvalRecord& r) {
  if (evals_) evals_->append({one(double(r.step)), one(r.test_loss), one(r.test_acc)});
}

void RunRecorder::on_epoch(const train::EpochRecord& r) {
  epochs_->append({one(double(r.epoch)), one(double(r.step)), one(r.train_loss), one(r.train_acc),
                   one(r.test_loss), one(r.test_acc), one(r.grad_norm_mean), one(r.wall_time)});
}

void RunRecorder::on_flush_point(std::int64_t) { file_->flush_if_due(); }

void RunRecorder::on_checkpoint(std::int64_t step) {
  if (step == last_checkpoint_) return;
  auto state = trainer_.resume_state();
  for (auto* o : state_observers_) o->save_state(state);
  file_->write_checkpoint(step, trainer_.named_state(), state);
  last_checkpoint_ = step;
}

void RunRecorder::finish(const train::TrainResult& result) {
  file_->set_attr("status", std::string(train::status_name(result.status)));
  file_->set_attr("diverged_at_step", result.diverged_at_step);
  file_->set_attr("end_time", iso8601_utc_now());
  // The final commit is not counted: it is not part of the training time.
  const auto cost = file_->commit_stats();
  file_->set_attr("io_commits", cost.commits);
  file_->set_attr("io_commit_bytes", cost.bytes);
  file_->set_attr("io_commit_seconds", cost.seconds);
  file_->close();
}

void RunRecorder::fail() noexcept {
  try {
    file_->set_attr("status", std::string("failed"));
    file_->set_attr("end_time", iso8601_utc_now());
    file_->close();
  } catch (...) {
    // The file may be what failed; the error that got us here is already being reported.
  }
}

}  // namespace bnl::cli
