#pragma once
/// \file
/// The names of the run-file schema (record/schema.h) as constants, for readers and writers:
/// group paths, column names and attribute names. Spelled once here; the declaration in
/// src/record/schema_*.cpp uses the same constants.

#include <string>

namespace bnl::record::names {

/// Group paths.
inline constexpr char kRoot[] = "/";
inline constexpr char kTrainSteps[] = "/train/steps";
inline constexpr char kTrainEpochs[] = "/train/epochs";
inline constexpr char kTrainEvals[] = "/train/evals";
inline constexpr char kProbes[] = "/probes";
inline constexpr char kDensity[] = "/density";
/// The Gauss-Newton matrix's density (probe --curvature ggn with --density-runs).
inline constexpr char kDensityGgn[] = "/density_ggn";
inline constexpr char kActivations[] = "/activations";
inline constexpr char kIcs[] = "/ics";
inline constexpr char kSurface[] = "/surface";
inline constexpr char kSurfaceDirections[] = "/surface/directions";
inline constexpr char kCheckpoints[] = "/checkpoints";
/// Subgroup of a checkpoint holding the optimizer and trainer state.
inline constexpr char kCheckpointState[] = "_state";

/// Dataset (column) names. A name shared by several groups is declared once.
inline constexpr char kStep[] = "step";
inline constexpr char kEpoch[] = "epoch";
inline constexpr char kLoss[] = "loss";
inline constexpr char kAcc[] = "acc";
inline constexpr char kGradNorm[] = "grad_norm";
inline constexpr char kLr[] = "lr";
inline constexpr char kWallTime[] = "wall_time";
inline constexpr char kLayerGradNorm[] = "layer_grad_norm";
inline constexpr char kLayerWeightNorm[] = "layer_weight_norm";
inline constexpr char kTrainLoss[] = "train_loss";
inline constexpr char kTrainAcc[] = "train_acc";
inline constexpr char kTestLoss[] = "test_loss";
inline constexpr char kTestAcc[] = "test_acc";
inline constexpr char kGradNormMean[] = "grad_norm_mean";
inline constexpr char kStepSizes[] = "step_sizes";
inline constexpr char kLossPath[] = "loss_path";
inline constexpr char kGradPred[] = "grad_pred";
inline constexpr char kBetaSmoothness[] = "beta_smoothness";
inline constexpr char kGradCurvature[] = "grad_curvature";
inline constexpr char kEigvals[] = "eigvals";
inline constexpr char kEigvalsBottom[] = "eigvals_bottom";
inline constexpr char kHvpCount[] = "hvp_count";
inline constexpr char kConverged[] = "converged";
inline constexpr char kGradEigCosine[] = "grad_eig_cosine";
inline constexpr char kEosThreshold[] = "eos_threshold";
inline constexpr char kTrace[] = "trace";
inline constexpr char kTraceStderr[] = "trace_stderr";
inline constexpr char kSeconds[] = "seconds";
inline constexpr char kAllreduceSeconds[] = "allreduce_seconds";
inline constexpr char kLayerEigvals[] = "layer_eigvals";
inline constexpr char kLayerHvpCount[] = "layer_hvp_count";
inline constexpr char kLayerConverged[] = "layer_converged";
inline constexpr char kTopEigenvector[] = "top_eigenvector";
inline constexpr char kGradTopkShare[] = "grad_topk_share";
inline constexpr char kEigvalsLayer[] = "eigvals_layer";
inline constexpr char kEigvalsAdaptive[] = "eigvals_adaptive";
inline constexpr char kScaledHvpCount[] = "scaled_hvp_count";
inline constexpr char kScaledConverged[] = "scaled_converged";
inline constexpr char kEffectiveLr[] = "effective_lr";
/// The Gauss-Newton matrix's columns of /probes: "ggn_" + the Hessian's name.
inline constexpr char kGgnEigvals[] = "ggn_eigvals";
inline constexpr char kGgnEigvalsBottom[] = "ggn_eigvals_bottom";
inline constexpr char kGgnHvpCount[] = "ggn_hvp_count";
inline constexpr char kGgnConverged[] = "ggn_converged";
inline constexpr char kGgnTrace[] = "ggn_trace";
inline constexpr char kGgnTraceStderr[] = "ggn_trace_stderr";
inline constexpr char kGgnLayerEigvals[] = "ggn_layer_eigvals";
inline constexpr char kGgnLayerHvpCount[] = "ggn_layer_hvp_count";
inline constexpr char kGgnLayerConverged[] = "ggn_layer_converged";
inline constexpr char kGgnGradTopkShare[] = "ggn_grad_topk_share";
inline constexpr char kGgnEigvalsLayer[] = "ggn_eigvals_layer";
inline constexpr char kGgnEigvalsAdaptive[] = "ggn_eigvals_adaptive";
inline constexpr char kGgnScaledHvpCount[] = "ggn_scaled_hvp_count";
inline constexpr char kGgnScaledConverged[] = "ggn_scaled_converged";
inline constexpr char kNodes[] = "nodes";
inline constexpr char kWeights[] = "weights";
inline constexpr char kBatchIndices[] = "batch_indices";
inline constexpr char kHist[] = "hist";
inline constexpr char kBinEdges[] = "bin_edges";
inline constexpr char kUnderflow[] = "underflow";
inline constexpr char kOverflow[] = "overflow";
inline constexpr char kMean[] = "mean";
inline constexpr char kStd[] = "std";
inline constexpr char kQuantiles[] = "quantiles";
inline constexpr char kZeroFraction[] = "zero_fraction";
inline constexpr char kL2[] = "l2";
inline constexpr char kCos[] = "cos";
inline constexpr char kAlpha[] = "alpha";
inline constexpr char kBeta[] = "beta";
inline constexpr char kDirectionNorms[] = "direction_norms";
inline constexpr char kEigenvalues[] = "eigenvalues";
/// The surface direction subgroups: /surface/directions/x and /surface/directions/y.
inline constexpr char kAxisX[] = "x";
inline constexpr char kAxisY[] = "y";
/// A pca surface's trajectory: /surface/explained_variance and /surface/trajectory/<column>.
inline constexpr char kExplainedVariance[] = "explained_variance";
inline constexpr char kTrajectory[] = "trajectory";
inline constexpr char kTrajectoryFile[] = "trajectory_file";
inline constexpr char kTrajectoryCheckpoints[] = "trajectory_checkpoints";

/// Root attribute names.
inline constexpr char kFormat[] = "format";
inline constexpr char kSchemaVersion[] = "schema_version";
inline constexpr char kStatus[] = "status";
inline constexpr char kDivergedAtStep[] = "diverged_at_step";
inline constexpr char kResumedAtStep[] = "resumed_at_step";
inline constexpr char kConfigToml[] = "config_toml";
inline constexpr char kVersion[] = "bnlandscape_version";
inline constexpr char kGitRevision[] = "git_revision";
inline constexpr char kTorchVersion[] = "torch_version";
inline constexpr char kBlas[] = "blas";
inline constexpr char kIntraOpThreads[] = "intra_op_threads";
inline constexpr char kBlasThreads[] = "blas_threads";
inline constexpr char kStepEngine[] = "step_engine";
inline constexpr char kDevice[] = "device";
inline constexpr char kDeviceName[] = "device_name";
inline constexpr char kTorchBuild[] = "torch_build";
inline constexpr char kHost[] = "host";
inline constexpr char kSeed[] = "seed";
inline constexpr char kStartTime[] = "start_time";
inline constexpr char kEndTime[] = "end_time";
inline constexpr char kIoCommits[] = "io_commits";
inline constexpr char kIoCommitBytes[] = "io_commit_bytes";
inline constexpr char kIoCommitSeconds[] = "io_commit_seconds";
inline constexpr char kDataFiles[] = "data_files";
inline constexpr char kNumClasses[] = "num_classes";
inline constexpr char kInputShape[] = "input_shape";
inline constexpr char kInputNormalization[] = "input_normalization";
inline constexpr char kCheckpointFile[] = "checkpoint_file";
inline constexpr char kCheckpointGroup[] = "checkpoint_group";
inline constexpr char kCheckpointSha256[] = "checkpoint_sha256";
inline constexpr char kModelSha256[] = "model_sha256";
inline constexpr char kModelCode[] = "model_code";

/// Group and column attribute names used by readers.
inline constexpr char kLayers[] = "layers";
inline constexpr char kScaleInvariant[] = "scale_invariant";
inline constexpr char kDims[] = "dims";
inline constexpr char kDirections[] = "directions";
inline constexpr char kWorldSize[] = "world_size";
inline constexpr char kOperator[] = "operator";
inline constexpr char kScaleInvariantBlocks[] = "scale_invariant_blocks";
inline constexpr char kCheckpointStep[] = "step";

/// "<group>/<name>", e.g. at(kTrainEpochs, kTestAcc) == "/train/epochs/test_acc".
inline std::string at(const std::string& group, const std::string& name) {
  return (group == kRoot ? std::string() : group) + "/" + name;
}

}  // namespace bnl::record::names
