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
  };
  return g;
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
  const bool eigvecs = cfg.save_eigenvectors && cfg.top_k > 0;
  const schema::Sizes sizes{{"S", static_cast<std::int64_t>(probe.step_sizes().size())},
                            {"k", cfg.top_k},
                            {"k'", cfg.bottom_k},
                            {"L", static_cast<std::int64_t>(probe.blocks().size())},
                            {"K", cfg.layer_top_k},
                            {"P", probe.num_params()},
                            {"save_eigenvectors", eigvecs ? 1 : 0}};
  const auto cols = schema::series_columns(schema::group(kProbes), sizes);
  row_ = RowLayout<ProbeRecord>(cols, probe_getters());
  std::vector<io::ColumnSpec> dcols;
  if (cfg.density_runs > 0) {
    dcols = schema::series_columns(schema::group(kDensity), {{"K", cfg.density_runs}, {"M", cfg.density_steps}});
    density_row_ = RowLayout<ProbeRecord>(dcols, density_getters());
  }
  if (resume && resume->active && file.exists(kProbes)) {
    // Probes of the checkpoint's step and later are measured again.
    group_ = &file.reopen_series(kProbes, cols, kStep, resume->step);
    if (!dcols.empty() && file.exists(kDensity)) {
      density_ = &file.reopen_series(kDensity, dcols, kStep, resume->step);
      return;
    }
    if (!dcols.empty()) add_density(file, cfg, probe, dcols);
    return;
  }
  group_ = &file.add_series(kProbes, cols);
  write_attributes(file, cfg, probe, world_size);
  if (!dcols.empty()) add_density(file, cfg, probe, dcols);
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
  if (cfg.layer_top_k > 0) {
    group_->set_attr("layer_top_k", cfg.layer_top_k);
    std::vector<std::string> names, kinds;
    for (const auto& b : probe.blocks()) {
      names.push_back(b.name);
      kinds.push_back(b.kind);
    }
    group_->set_column_attr(kLayerEigvals, "blocks", names);
    group_->set_column_attr(kLayerEigvals, "block_kinds", kinds);
    group_->set_column_attr(kLayerEigvals, kDims, std::string("step,block,k"));
  }
}

void ProbeSeries::add_density(io::RunFile& file, const probes::ProbeConfig& cfg, const probes::LandscapeProbe& probe,
                              const std::vector<io::ColumnSpec>& cols) {
  density_ = &file.add_series(kDensity, cols);
  density_->set_attr("runs", cfg.density_runs);
  density_->set_attr("steps", cfg.density_steps);
  density_->set_attr("num_params", probe.num_params());
  density_->set_attr("method", std::string("stochastic Lanczos quadrature, Rademacher starts, full reorthogonalisation"));
  density_->set_column_attr(kNodes, kDims, std::string("step,run*steps+i"));
  density_->set_column_attr(kWeights, kDims, std::string("step,run*steps+i"));
}

void ProbeSeries::append(const probes::ProbeRecord& r) {
  group_->append(row_.row(r));
  if (density_) density_->append(density_row_.row(r));
  file_.flush();
}

}  // namespace bnl::record
