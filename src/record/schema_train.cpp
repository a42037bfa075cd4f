#include "schema_groups.h"

namespace bnl::record::schema::detail {
namespace {

using namespace names;

Group root() {
  Group g = group_at(kRoot, "written when the file is created; status, end_time and the io_* costs when the run ends");
  g.attributes = {
      attribute(kFormat, S, "always \"bnlandscape\""),
      attribute(kSchemaVersion, I, "1 for this schema"),
      attribute(kStatus, S, "running, complete, diverged, interrupted or failed"),
      attribute(kDivergedAtStep, I, "step whose loss became non-finite, -1 if the run did not diverge"),
      attribute(kResumedAtStep, I, "step of the checkpoint the last --resume continued from (resumed runs only)"),
      attribute(kConfigToml, S, "the full run configuration as TOML (multi-line)"),
      attribute(kVersion, S, "version of the program"),
      attribute(kGitRevision, S, "source revision the program was built from (12 hex digits or unknown)"),
      attribute(kTorchVersion, S, "libtorch version"),
      attribute(kBlas, S, "BLAS/LAPACK backend libtorch used"),
      attribute(kIntraOpThreads, I, "libtorch intra-op threads"),
      attribute(kBlasThreads, I, "BLAS threads"),
      attribute(kStepEngine, S, "how training steps were computed: fused or autograd"),
      attribute(kDevice, S, "the device the run computed on: cpu or cuda:0"),
      attribute(kDeviceName, S, "the CPU's model name or the GPU's name"),
      attribute(kTorchBuild, S, "the libtorch build"),
      attribute(kHost, S, "host name of the machine that ran it"),
      attribute(kSeed, I, "random seed (surface files: the direction seed)"),
      attribute(kStartTime, S, "ISO 8601 UTC"),
      attribute(kEndTime, S, "ISO 8601 UTC; \"\" while running"),
      attribute(kIoCommits, I, "atomic commits of the file by the process that finished the run (the final one not counted)"),
      attribute(kIoCommitBytes, I, "bytes those commits wrote"),
      attribute(kIoCommitSeconds, F, "wall time those commits took"),
      attribute(kDataFiles, S, "the dataset files read, one \"<path> <sha256 hex>\" per line"),
      attribute(kNumClasses, I, "classes K of the data: labels 0..K-1, the model's outputs"),
      attribute(kInputShape, S, "one input as the model takes it: \"CxHxW\" (images) or \"D\" (feature rows)"),
      attribute(kInputNormalization, S, "what the inputs went through before the model (x/255, per-channel mean and std)"),
      attribute(kCheckpointFile, S, "offline probe and surface files: the file of the checkpoint probed"),
      attribute(kCheckpointGroup, S, "offline probe and surface files: the checkpoint group probed"),
      attribute(kCheckpointSha256, S, "offline probe and surface files: SHA-256 (lowercase hex) of the checkpoint file"),
      attribute(kModelSha256, S, "--arch torchscript only: SHA-256 (lowercase hex) of the --model file"),
      attribute(kModelCode, S, "--arch torchscript only: the module's code as torch.jit exposes it, a \"# <python module>\" line and its source per module of the archive's code/"),
  };
  return g;
}

Group steps() {
  Group g = group_at(kTrainSteps, "one row per optimizer step, from the step's record after its update");
  g.columns = {
      step_column("[n]", "0-based index of the update"),
      dataset(kEpoch, I, "[n]", "1", "0-based epoch of the update"),
      dataset(kLoss, F, "[n]", "nats", "mean cross-entropy of the mini-batch before the update"),
      dataset(kAcc, F, "[n]", "1", "mini-batch accuracy from the pre-update logits"),
      dataset(kGradNorm, F, "[n]", "1", "global L2 norm of all parameter gradients, after backward, before the update"),
      dataset(kLr, F, "[n]", "1", "learning rate of the update"),
      dataset(kWallTime, F, "[n]", "s", "seconds since the run started"),
      dataset(kLayerGradNorm, F, "[n, L]", "1",
              "L2 norm of each layer's parameter gradients (layers in the attribute 'layers')"),
      dataset(kLayerWeightNorm, F, "[n, L]", "1",
              "L2 norm of each layer's parameters at the weights the step's loss and gradient were evaluated at "
              "(before the update)"),
  };
  g.attributes = {
      names_attribute(kLayers, "[L]", "the L layer names in column order", kLayerGradNorm),
      attribute(kDims, S, "\"step,layer\"", kLayerGradNorm),
      names_attribute(kLayers, "[L]", "the L layer names in column order (those of layer_grad_norm)", kLayerWeightNorm),
      attribute(kDims, S, "\"step,layer\"", kLayerWeightNorm),
      names_attribute(kScaleInvariant, "[B]",
                      "the B layers (a subset of 'layers') feeding a normalisation layer, whose weight and bias "
                      "the loss is invariant to scaling while it normalises with batch statistics; empty without "
                      "normalisation",
                      kLayerWeightNorm),
  };
  return g;
}

Group epochs() {
  Group g = group_at(kTrainEpochs, "one row per completed epoch, after its evaluation on the test set");
  g.columns = {
      dataset(kEpoch, I, "[m]", "1", "0-based epoch"),
      step_column("[m]", "updates done at the end of the epoch"),
      dataset(kTrainLoss, F, "[m]", "nats", "mean of the epoch's mini-batch losses"),
      dataset(kTrainAcc, F, "[m]", "1", "mean of the epoch's mini-batch accuracies"),
      test_loss_column("[m]"),
      test_acc_column("[m]"),
      dataset(kGradNormMean, F, "[m]", "1", "mean of the epoch's per-step global gradient norms"),
      dataset(kWallTime, F, "[m]", "s", "seconds the epoch took, evaluation included"),
  };
  return g;
}

Group evals() {
  Group g = group_at(kTrainEvals, "one row per --eval-every N evaluation on the test set (only with --eval-every)");
  g.columns = {step_column("[k]", "updates done before the evaluation"), test_loss_column("[k]"),
               test_acc_column("[k]")};
  return g;
}

Group checkpoints() {
  Group g = group_at(std::string(kCheckpoints) + "/step_NNNNNNN",
                     "one group per checkpoint (--checkpoint-every, --checkpoint-minutes, a signal, the end of the run); not a series");
  g.arrays = {
      dataset("<dotted name>", Dtype::Tensor, "parameter shape", "", "one tensor of the model's state_dict"),
      dataset(std::string(kCheckpointState) + "/<name>", Dtype::Tensor, "tensor shape", "",
              "optimizer and trainer state, flat"),
  };
  g.attributes = {attribute(kCheckpointStep, I, "the checkpoint's step (updates done)")};
  return g;
}

}  // namespace

std::vector<Group> train_groups() { return {root(), steps(), epochs(), evals(), checkpoints()}; }

}  // namespace bnl::record::schema::detail
