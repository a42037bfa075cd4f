#include "bnlandscape/record/probe_series.h"

#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record {
namespace {

using namespace names;
using probes::ProbeRecord;
using Get = ColumnGetter<ProbeRecord>;

// One getter per /probes column; the schema decides which are written and in what order.
const std::vector<Get>& probe_getters() {
  static const std::vector<Get> g{
      {kStep, [](const ProbeRecord& r) { return one(double(r.step)); }},
      {kLoss, [](const ProbeRecord& r) { return one(r.loss); }},
      {kGradNorm, [](const ProbeRecord& r) { return one(r.grad_norm); }},
      {kLossPath, [](const ProbeRecord& r) { return r.loss_path; }},
      {kGradPred, [](const ProbeRecord& r) { return r.grad_pred; }},
      {kBetaSmoothness, [](const ProbeRecord& r) { return one(r.beta_smoothness); }},
      {kGradCurvature, [](const ProbeRecord& r) { return one(r.grad_curvature); }},
      {kEigvals, [](const ProbeRecord& r) { return r.eigvals; }},
      {kEigvalsBottom, [](const ProbeRecord& r) { return r.eigvals_bottom; }},
      {kHvpCount, [](const ProbeRecord& r) { return one(double(r.hvp_count)); }},
      {kConverged, [](const ProbeRecord& r) { return one(r.converged ? 1.0 : 0.0); }},
      {kGradEigCosine, [](const ProbeRecord& r) { return one(r.grad_eig_cosine); }},
      {kEosThreshold, [](const ProbeRecord& r) { return one(r.eos_threshold); }},
      {kTrace, [](const ProbeRecord& r) { return one(r.trace); }},
      {kTraceStderr, [](const ProbeRecord& r) { return one(r.trace_stderr); }},
      {kSeconds, [](const ProbeRecord& r) { return one(r.seconds); }},
      {kAllreduceSeconds, [](const ProbeRecord& r) { return one(r.allreduce_seconds); }},
      {kLayerEigvals, [](const ProbeRecord& r) { return r.layer_eigvals; }},
      {kLayerHvpCount, [](const ProbeRecord& r) { return one(double(r.layer_hvp_count)); }},
      {kLayerConverged, [](const ProbeRecord& r) { return one(r.layer_converged ? 1.0 : 0.0); }},
      {kTopEigenvector,
       [](const ProbeRecord& r) { return std::vector<double>(r.top_eigenvector.begin(), r.top_eigenvector.end()); }},
      {kGradTopkShare, [](const ProbeRecord& r) { return r.hessian.grad_topk_share; }},
      {kEigvalsLayer, [](const ProbeRecord& r) { return r.hessian.eigvals_layer; }},
      {kEigvalsAdaptive, [](const ProbeRecord& r) { return r.hessian.eigvals_adaptive; }},
      {kScaledHvpCount, [](const ProbeRecord& r) { return one(double(r.hessian.scaled_hvp_count)); }},
      {kScaledConverged, [](const ProbeRecord& r) { return one(r.hessian.scaled_converged ? 1.0 : 0.0); }},
      {kGgnEigvals, [](const ProbeRecord& r) { return r.ggn.eigvals; }},
      {kGgnEigvalsBottom, [](const ProbeRecord& r) { return r.ggn.eigvals_bottom; }},
      {kGgnHvpCount, [](const ProbeRecord& r) { return one(double(r.ggn.hvp_count)); }},
      {kGgnConverged, [](const ProbeRecord& r) { return one(r.ggn.converged ? 1.0 : 0.0); }},
      {kGgnTrace, [](const ProbeRecord& r) { return one(r.ggn.trace); }},
      {kGgnTraceStderr, [](const ProbeRecord& r) { return one(r.ggn.trace_stderr); }},
      {kGgnLayerEigvals, [](const ProbeRecord& r) { return r.ggn.layer_eigvals; }},
      {kGgnLayerHvpCount, [](const ProbeRecord& r) { return one(double(r.ggn.layer_hvp_count)); }},
      {kGgnLayerConverged, [](const ProbeRecord& r) { return one(r.ggn.layer_converged ? 1.0 : 0.0); }},
      {kGgnGradTopkShare, [](const ProbeRecord& r) { return r.ggn.grad_topk_share; }},
      {kGgnEigvalsLayer, [](const ProbeRecord& r) { return r.ggn.eigvals_layer; }},
      {kGgnEigvalsAdaptive, [](const ProbeRecord& r) { return r.ggn.eigvals_adaptive; }},
      {kGgnScaledHvpCount, [](const ProbeRecord& r) { return one(double(r.ggn.scaled_hvp_count)); }},
      {kGgnScaledConverged, [](const ProbeRecord& r) { return one(r.ggn.scaled_converged ? 1.0 : 0.0); }},
      {kEffectiveLr, [](const ProbeRecord& r) { return r.effective_lr; }},
  };
  return g;
}

const std::vector<Get>& ggn_density_getters() {
  static const std::vector<Get> g{
      {kStep, [](const ProbeRecord& r) { return one(double(r.step)); }},
      {kNodes, [](const ProbeRecord& r) { return r.ggn.density_nodes; }},
      {kWeights, [](const ProbeRecord& r) { return r.ggn.density_weights; }},
      {kHvpCount, [](const ProbeRecord& r) { return one(double(r.ggn.density_hvp_count)); }},
      {kSeconds, [](const ProbeRecord& r) { return one(r.ggn.density_seconds); }},
  };
  return g;
}

// The size symbols of /probes' shapes and presence conditions (schema_probes.cpp).
schema::Sizes probe_sizes(const probes::LandscapeProbe& probe, const probes::ProbeConfig& cfg) {
  const auto op = probes::curvature_choice(cfg);
  const auto scale = probes::scaling_choice(cfg);
  const bool eigvecs = cfg.save_eigenvectors && cfg.top_k > 0 && op.hessian;
  const auto on = [](bool b, std::int64_t v) { return b ? v : std::int64_t{0}; };
  const std::int64_t scaled_k = scale.any() ? cfg.top_k : 0;
  return {{"S", static_cast<std::int64_t>(probe.step_sizes().size())},
          {"k", cfg.top_k},
          {"k'", cfg.bottom_k},
          {"L", static_cast<std::int64_t>(probe.blocks().size())},
          {"K", cfg.layer_top_k},
          {"P", probe.num_params()},
          {"B", static_cast<std::int64_t>(probe.scale_invariant_layers().size())},
          {"save_eigenvectors", eigvecs ? 1 : 0},
          {"hessian_k", on(op.hessian, cfg.top_k)},
          {"hessian_k'", on(op.hessian, cfg.bottom_k)},
          {"hessian_K", on(op.hessian, cfg.layer_top_k)},
          {"hessian_layer", on(op.hessian && scale.layer, cfg.top_k)},
          {"hessian_adaptive", on(op.hessian && scale.adaptive, cfg.top_k)},
          {"hessian_scaled", on(op.hessian, scaled_k)},
          {"ggn", op.ggn ? 1 : 0},
          {"ggn_k", on(op.ggn, cfg.top_k)},
          {"ggn_k'", on(op.ggn, cfg.bottom_k)},
          {"ggn_K", on(op.ggn, cfg.layer_top_k)},
          {"ggn_layer", on(op.ggn && scale.layer, cfg.top_k)},
          {"ggn_adaptive", on(op.ggn && scale.adaptive, cfg.top_k)},
          {"ggn_scaled", on(op.ggn, scaled_k)}};
}

const std::vector<Get>& density_getters() {
  static const std::vector<Get> g{
      {kStep, [](const ProbeRecord& r) { return one(double(r.step)); }},
      {kNodes, [](const ProbeRecord& r) { return r.density_nodes; }},
      {kWeights, [](const ProbeRecord& r) { return r.density_weights; }},
      {kHvpCount, [](const ProbeRecord& r) { return one(double(r.density_hvp_count)); }},
      {kSeconds, [](const ProbeRecord& r) { return one(r.density_seconds); }},
  };
  return g;
}

}  // namespace

ProbeSeries::ProbeSeries(io::RunFile& file, const probes::LandscapeProbe& probe, const probes::ProbeConfig& cfg,
                         const ResumeInfo* resume, int world_size)
    : file_(file) {
  const auto cols = schema::series_columns(schema::group(kProbes), probe_sizes(probe, cfg));
  row_ = RowLayout<ProbeRecord>(cols, probe_getters());
  const auto op = probes::curvature_choice(cfg);
  const schema::Sizes dsizes{{"K", cfg.density_runs}, {"M", cfg.density_steps}};
  std::vector<io::ColumnSpec> dcols, gcols;
  if (cfg.density_runs > 0 && op.hessian) {
    dcols = schema::series_columns(schema::group(kDensity), dsizes);
    density_row_ = RowLayout<ProbeRecord>(dcols, density_getters());
  }
  if (cfg.density_runs > 0 && op.ggn) {
    gcols = schema::series_columns(schema::group(kDensityGgn), dsizes);
    ggn_density_row_ = RowLayout<ProbeRecord>(gcols, ggn_density_getters());
  }
  if (resume && resume->active && file.exists(kProbes)) {
    // Probes of the checkpoint's step and later are measured again.
    group_ = &file.reopen_series(kProbes, cols, kStep, resume->step);
    density_ = open_density(file, kDensity, "hessian", cfg, probe, dcols, resume);
    ggn_density_ = open_density(file, kDensityGgn, "ggn", cfg, probe, gcols, resume);
    return;
  }
  group_ = &file.add_series(kProbes, cols);
  write_attributes(file, cfg, probe, world_size);
  density_ = open_density(file, kDensity, "hessian", cfg, probe, dcols, nullptr);
  ggn_density_ = open_density(file, kDensityGgn, "ggn", cfg, probe, gcols, nullptr);
  file.flush();
}

void ProbeSeries::write_attributes(io::RunFile& file, const probes::ProbeConfig& cfg,
                                   const probes::LandscapeProbe& probe, int world_size) {
  const auto& sizes = schema::item(kProbes, kStepSizes);
  file.write_array(at(kProbes, kStepSizes), probe.step_sizes(), {}, sizes.units, sizes.meaning);
  group_->set_attr("probe_batch", cfg.probe_batch);
  group_->set_attr("probe_size", probes::probe_batch_kind(cfg) == probes::ProbeBatch::fixed ? cfg.probe_size : std::int64_t{-1});
  group_->set_attr("probe_microbatch", cfg.probe_microbatch);
  group_->set_attr("probe_dtype", cfg.probe_dtype);
  group_->set_attr("probe_bn_mode", cfg.probe_bn_mode);
  group_->set_attr("hvp_engine", probe.hvp_engine());
  group_->set_attr("overlap", std::int64_t{cfg.overlap ? 1 : 0});
  group_->set_attr("tol", cfg.tol);
  group_->set_attr("ncv", static_cast<std::int64_t>(probe.ncv()));
  group_->set_attr("top_k", cfg.top_k);
  group_->set_attr("bottom_k", cfg.bottom_k);
  group_->set_attr("trace_samples", cfg.trace_samples);
  group_->set_attr("step_interval", cfg.step_interval);
  group_->set_attr("num_params", probe.num_params());
  group_->set_attr(kWorldSize, static_cast<std::int64_t>(world_size));
  const auto op = probes::curvature_choice(cfg);
  group_->set_attr("curvature", cfg.curvature);
  group_->set_attr("sharpness_scaling", cfg.sharpness_scaling);
  if (op.ggn) group_->set_attr("ggn_engine", probe.ggn_engine());
  if (op.ggn && cfg.top_k > 0) group_->set_column_attr(kGgnEigvals, kOperator, std::string("ggn"));
  if (!probe.scale_invariant_layers().empty()) {
    group_->set_attr(kScaleInvariantBlocks, probe.scale_invariant_layers());
    const bool batch_stats = probes::probe_bn_mode_kind(cfg) == probes::ProbeBnMode::train;
    group_->set_attr("blocks_scale_invariant", std::int64_t{batch_stats ? 1 : 0});
  }
  if (cfg.layer_top_k > 0) {
    group_->set_attr("layer_top_k", cfg.layer_top_k);
    std::vector<std::string> names, kinds;
    for (const auto& b : probe.blocks()) {
      names.push_back(b.name);
      kinds.push_back(b.kind);
    }
    for (const char* column : {kLayerEigvals, kGgnLayerEigvals}) {
      if (column == kLayerEigvals ? !op.hessian : !op.ggn) continue;
      group_->set_column_attr(column, "blocks", names);
      group_->set_column_attr(column, "block_kinds", kinds);
      group_->set_column_attr(column, kDims, std::string("step,block,k"));
    }
  }
}

io::SeriesGroup* ProbeSeries::open_density(io::RunFile& file, const char* path, const char* op,
                                           const probes::ProbeConfig& cfg, const probes::LandscapeProbe& probe,
                                           const std::vector<io::ColumnSpec>& cols, const ResumeInfo* resume) {
  if (cols.empty()) return nullptr;
  if (resume && file.exists(path)) return &file.reopen_series(path, cols, kStep, resume->step);
  auto* d = &file.add_series(path, cols);
  d->set_attr("runs", cfg.density_runs);
  d->set_attr("steps", cfg.density_steps);
  d->set_attr("num_params", probe.num_params());
  d->set_attr("method", std::string("stochastic Lanczos quadrature, Rademacher starts, full reorthogonalisation"));
  d->set_attr(kOperator, std::string(op));
  d->set_column_attr(kNodes, kDims, std::string("step,run*steps+i"));
  d->set_column_attr(kWeights, kDims, std::string("step,run*steps+i"));
  return d;
}

void ProbeSeries::append(const probes::ProbeRecord& r) {
  group_->append(row_.row(r));
  if (density_) density_->append(density_row_.row(r));
  if (ggn_density_) ggn_density_->append(ggn_density_row_.row(r));
  file_.flush();
}

}  // namespace bnl::record
