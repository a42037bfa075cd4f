#include "bnlandscape/record/schema_names.h"
#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;
constexpr auto I = Dtype::Int64;
constexpr auto F = Dtype::Float64;
constexpr auto S = Dtype::String;

Item attr(const char* name, Dtype t, const char* meaning) { return {name, t, "", "", meaning, "", ""}; }

Group root() {
  Group g;
  g.path = kRoot;
  g.rows = "written when the file is created; status, end_time and the io_* costs when the run ends";
  g.attributes = {
      attr(kFormat, S, "always \"bnlandscape\""),
      attr(kSchemaVersion, I, "1 for this schema"),
      attr(kStatus, S, "running, complete, diverged, interrupted or failed"),
      attr(kDivergedAtStep, I, "step whose loss became non-finite, -1 if the run did not diverge"),
      attr(kResumedAtStep, I, "step of the checkpoint the last --resume continued from (resumed runs only)"),
      attr(kConfigToml, S, "the full run configuration as TOML (multi-line)"),
      attr(kVersion, S, "version of the program"),
      attr(kGitRevision, S, "source revision the program was built from (12 hex digits or unknown)"),
      attr(kTorchVersion, S, "libtorch version"),
      attr(kBlas, S, "BLAS/LAPACK backend libtorch used"),
      attr(kIntraOpThreads, I, "libtorch intra-op threads"),
      attr(kBlasThreads, I, "BLAS threads"),
      attr(kStepEngine, S, "how training steps were computed: fused or autograd"),
      attr(kDevice, S, "the device the run computed on: cpu or cuda:0"),
      attr(kDeviceName, S, "the CPU's model name or the GPU's name"),
      attr(kTorchBuild, S, "the libtorch build"),
      attr(kHost, S, "host name of the machine that ran it"),
      attr(kSeed, I, "random seed (surface files: the direction seed)"),
      attr(kStartTime, S, "ISO 8601 UTC"),
      attr(kEndTime, S, "ISO 8601 UTC; \"\" while running"),
      attr(kIoCommits, I, "atomic commits of the file by the process that finished the run (the final one not counted)"),
      attr(kIoCommitBytes, I, "bytes those commits wrote"),
      attr(kIoCommitSeconds, F, "wall time those commits took"),
      attr(kDataFiles, S, "the dataset files read, one \"<path> <sha256 hex>\" per line"),
      attr(kCheckpointFile, S, "offline probe and surface files: the file of the checkpoint probed"),
      attr(kCheckpointGroup, S, "offline probe and surface files: the checkpoint group probed"),
  };
  return g;
}

Group steps() {
  Group g;
  g.path = kTrainSteps;
  g.rows = "one row per optimizer step, from the step's record after its update";
  g.columns = {
      {kStep, I, "[n]", "1", "0-based index of the update", "", ""},
      {kEpoch, I, "[n]", "1", "0-based epoch of the update", "", ""},
      {kLoss, F, "[n]", "nats", "mean cross-entropy of the mini-batch before the update", "", ""},
      {kAcc, F, "[n]", "1", "mini-batch accuracy from the pre-update logits", "", ""},
      {kGradNorm, F, "[n]", "1", "global L2 norm of all parameter gradients, after backward, before the update", "", ""},
      {kLr, F, "[n]", "1", "learning rate of the update", "", ""},
      {kWallTime, F, "[n]", "s", "seconds since the run started", "", ""},
      {kLayerGradNorm, F, "[n, L]", "1",
       "L2 norm of each layer's parameter gradients (layers in the attribute 'layers')", "", ""},
  };
  g.attributes = {
      {kLayers, Dtype::StringArray, "[L]", "", "the L layer names in column order", "", kLayerGradNorm},
      {kDims, S, "", "", "\"step,layer\"", "", kLayerGradNorm},
  };
  return g;
}

Group epochs() {
  Group g;
  g.path = kTrainEpochs;
  g.rows = "one row per completed epoch, after its evaluation on the test set";
  g.columns = {
      {kEpoch, I, "[m]", "1", "0-based epoch", "", ""},
      {kStep, I, "[m]", "1", "updates done at the end of the epoch", "", ""},
      {kTrainLoss, F, "[m]", "nats", "mean of the epoch's mini-batch losses", "", ""},
      {kTrainAcc, F, "[m]", "1", "mean of the epoch's mini-batch accuracies", "", ""},
      {kTestLoss, F, "[m]", "nats", "mean cross-entropy on the test set, evaluation mode", "", ""},
      {kTestAcc, F, "[m]", "1", "accuracy on the test set, evaluation mode", "", ""},
      {kGradNormMean, F, "[m]", "1", "mean of the epoch's per-step global gradient norms", "", ""},
      {kWallTime, F, "[m]", "s", "seconds the epoch took, evaluation included", "", ""},
  };
  return g;
}

Group evals() {
  Group g;
  g.path = kTrainEvals;
  g.rows = "one row per --eval-every N evaluation on the test set (only with --eval-every)";
  g.columns = {
      {kStep, I, "[k]", "1", "updates done before the evaluation", "", ""},
      {kTestLoss, F, "[k]", "nats", "mean cross-entropy on the test set, evaluation mode", "", ""},
      {kTestAcc, F, "[k]", "1", "accuracy on the test set, evaluation mode", "", ""},
  };
  return g;
}

Group checkpoints() {
  Group g;
  g.path = std::string(kCheckpoints) + "/step_NNNNNNN";
  g.rows = "one group per --checkpoint-every step (and the end of the run); not a series";
  g.arrays = {
      {"<dotted name>", Dtype::Tensor, "parameter shape", "", "one tensor of the model's state_dict", "", ""},
      {std::string(kCheckpointState) + "/<name>", Dtype::Tensor, "tensor shape", "",
       "optimizer and trainer state, flat", "", ""},
  };
  g.attributes = {attr(kCheckpointStep, I, "the checkpoint's step (updates done)")};
  return g;
}

}  // namespace

std::vector<Group> train_groups() { return {root(), steps(), epochs(), evals(), checkpoints()}; }

}  // namespace bnl::record::schema::detail
