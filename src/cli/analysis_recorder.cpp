#include "bnlandscape/cli/analysis_recorder.h"

#include <algorithm>
#include <optional>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/probes/ics.h"

namespace bnl::cli {
namespace {

// Mixed into the run's seed so the fixed batch does not follow the epoch-0 data order.
constexpr std::uint64_t kActivationBatchSalt = 0x61637469766174ULL;  // "activat"

}  // namespace

std::vector<std::int64_t> activation_batch_indices(std::int64_t n, std::uint64_t seed) {
  auto perm = data::epoch_permutation(n, seed ^ kActivationBatchSalt, 0);
  perm.resize(static_cast<std::size_t>(std::min<std::int64_t>(n, kActivationBatch)));
  return perm;
}

static std::vector<io::ColumnSpec> activation_columns(std::int64_t bins) {
  return {{"step", io::ColumnType::Int64, {}, "1", "update index of the snapshot (taken before its update)"},
          {"hist", io::ColumnType::Int64, {bins}, "count", "values per bin (edges in bin_edges)"},
          {"underflow", io::ColumnType::Int64, {}, "count", "values below the first edge"},
          {"overflow", io::ColumnType::Int64, {}, "count", "values above the last edge (NaN included)"},
          {"mean", io::ColumnType::Float64, {}, "activation", "mean of all values"},
          {"std", io::ColumnType::Float64, {}, "activation", "population standard deviation of all values"},
          {"quantiles", io::ColumnType::Float64, {7}, "activation",
           "quantiles 1, 5, 25, 50, 75, 95, 99 % (linear interpolation)"},
          {"zero_fraction", io::ColumnType::Float64, {}, "1", "fraction of values exactly zero"}};
}

static std::string activation_group(const probes::ActivationSite& s) { return "/activations/" + s.layer + "/" + s.site; }

AnalysisObserver::AnalysisObserver(train::Trainer& trainer, io::RunFile& file, const train::TrainConfig& cfg,
                                   const data::Dataset& data, const ResumeInfo* resume)
    : trainer_(trainer),
      file_(file),
      acts_every_(cfg.activations_every),
      ics_every_(cfg.ics_every),
      resuming_(resume && resume->active),
      resume_step_(resuming_ ? resume->step : 0) {
  if (acts_every_ > 0) {
    batch_indices_ = activation_batch_indices(data.train.n, cfg.seed);
    auto x = data::gather_images(data.train, data.norm, batch_indices_.data(),
                                 static_cast<std::int64_t>(batch_indices_.size()));
    std::optional<probes::HistogramRange> range;
    if (!cfg.activation_range.empty()) {
      const auto [lo, hi] = train::parse_activation_range(cfg.activation_range);
      range = probes::HistogramRange{lo, hi};
    }
    probes::ActivationRecorder::RangeLookup stored;
    if (resuming_) {
      stored = [this](const probes::ActivationSite& site) -> std::optional<probes::HistogramRange> {
        const std::string edges = activation_group(site) + "/bin_edges";
        if (!file_.exists(edges)) return std::nullopt;
        const auto e = file_.read_array(edges);
        return probes::HistogramRange{e.front(), e.back()};
      };
    }
    recorder_ = std::make_unique<probes::ActivationRecorder>(trainer.model(), x, cfg.activation_bins, range, stored);
    if (!file_.exists("/activations/batch_indices"))
      file_.write_int_array("/activations/batch_indices", batch_indices_, {}, "1",
                            "indices into the training set of the fixed batch every activation snapshot uses");
  }
  if (ics_every_ > 0) {
    // The names were checked against the model by prepare_run, before any output existed.
    ics_layers_ = cfg.ics_layers.empty() ? trainer.model().weight_layer_names()
                                         : train::parse_name_list(cfg.ics_layers);
    const auto L = static_cast<std::int64_t>(ics_layers_.size());
    const std::vector<io::ColumnSpec> cols{
        {"step", io::ColumnType::Int64, {}, "1", "update index the shift was measured at (before its update)"},
        {"l2", io::ColumnType::Float64, {L}, "loss/param",
         "||G - G'||_2 per layer: G its gradient, G' the same after the earlier layers' update of this step"},
        {"cos", io::ColumnType::Float64, {L}, "1", "cosine between G and G' per layer"}};
    ics_ = resuming_ && file_.exists("/ics") ? &file_.reopen_series("/ics", cols, "step", resume_step_)
                                             : &file_.add_series("/ics", cols);
    ics_->set_attr("layers", ics_layers_);
    ics_->set_attr("definition", std::string("Santurkar et al. 2018, Definition 2.1"));
    ics_->set_column_attr("l2", "layers", ics_layers_);
    ics_->set_column_attr("cos", "layers", ics_layers_);
  }
}

void AnalysisObserver::before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {
  if (acts_every_ > 0 && step % acts_every_ == 0) record_activations(step);
  if (ics_every_ > 0 && step % ics_every_ == 0) record_ics(step, x, y);
}

void AnalysisObserver::record_activations(std::int64_t step) {
  const auto summaries = recorder_->record();
  const auto& sites = recorder_->sites();
  const std::int64_t bins = recorder_->bins();
  if (act_groups_.empty()) {
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const std::string g = activation_group(sites[i]);
      if (resuming_ && file_.exists(g)) {
        act_groups_.push_back(&file_.reopen_series(g, activation_columns(bins), "step", resume_step_));
        continue;
      }
      auto& s = file_.add_series(g, activation_columns(bins));
      s.set_attr("module", sites[i].module);
      s.set_column_attr("quantiles", "levels", std::vector<std::string>{"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"});
      file_.write_array(g + "/bin_edges", probes::bin_edges(recorder_->ranges()[i], bins), {}, "activation",
                        "histogram bin edges, fixed for the run");
      act_groups_.push_back(&s);
    }
  }
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    const auto& a = summaries[i];
    act_groups_[i]->append({{static_cast<double>(step)},
                            a.hist,
                            {a.underflow},
                            {a.overflow},
                            {a.mean},
                            {a.std},
                            std::vector<double>(a.quantiles.begin(), a.quantiles.end()),
                            {a.zero_fraction}});
  }
}

void AnalysisObserver::record_ics(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {
  const auto updated = trainer_.preview_update();
  const auto r = probes::internal_covariate_shift(trainer_.model(), ics_layers_, x, y, updated);
  ics_->append({{static_cast<double>(step)}, r.l2, r.cos});
}

}  // namespace bnl::cli
