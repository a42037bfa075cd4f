#include "bnlandscape/record/analysis_observer.h"

#include <algorithm>
#include <optional>

#include "bnlandscape/data/batches.h"
#include "bnlandscape/models/classifier.h"
#include "bnlandscape/probes/ics.h"
#include "bnlandscape/record/row_layout.h"
#include "bnlandscape/record/schema.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record {
namespace {

using namespace names;

// Mixed into the run's seed so the fixed batch does not follow the epoch-0 data order.
constexpr std::uint64_t kActivationBatchSalt = 0x61637469766174ULL;  // "activat"

const schema::Group& site_schema() {
  static const schema::Group& g = schema::group(std::string(kActivations) + "/<layer>/<site>");
  return g;
}

std::vector<io::ColumnSpec> activation_columns(std::int64_t bins) {
  return schema::series_columns(site_schema(), {{"bins", bins}});
}

std::string activation_group(const probes::ActivationSite& s) { return std::string(kActivations) + "/" + s.layer + "/" + s.site; }

}  // namespace

std::vector<std::int64_t> activation_batch_indices(std::int64_t n, std::uint64_t seed) {
  auto perm = data::epoch_permutation(n, seed ^ kActivationBatchSalt, 0);
  perm.resize(static_cast<std::size_t>(std::min<std::int64_t>(n, kActivationBatch)));
  return perm;
}

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
        const std::string edges = at(activation_group(site), kBinEdges);
        if (!file_.exists(edges)) return std::nullopt;
        const auto e = file_.read_array(edges);
        return probes::HistogramRange{e.front(), e.back()};
      };
    }
    recorder_ = std::make_unique<probes::ActivationRecorder>(trainer.model(), x, cfg.activation_bins, range, stored);
    const std::string indices = at(kActivations, kBatchIndices);
    if (!file_.exists(indices)) {
      const auto& a = schema::item(kActivations, kBatchIndices);
      file_.write_int_array(indices, batch_indices_, {}, a.units, a.meaning);
    }
  }
  if (ics_every_ > 0) {
    // The names were checked against the model by prepare_run, before any output existed.
    ics_layers_ = cfg.ics_layers.empty() ? trainer.model().weight_layer_names()
                                         : train::parse_name_list(cfg.ics_layers);
    const auto L = static_cast<std::int64_t>(ics_layers_.size());
    const auto cols = schema::series_columns(schema::group(kIcs), {{"L", L}});
    ics_ = resuming_ && file_.exists(kIcs) ? &file_.reopen_series(kIcs, cols, kStep, resume_step_)
                                           : &file_.add_series(kIcs, cols);
    ics_->set_attr(kLayers, ics_layers_);
    ics_->set_attr("definition", std::string("Santurkar et al. 2018, Definition 2.1"));
    ics_->set_column_attr(kL2, kLayers, ics_layers_);
    ics_->set_column_attr(kCos, kLayers, ics_layers_);
  }
}

void AnalysisObserver::before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {
  if (acts_every_ > 0 && step % acts_every_ == 0) record_activations(step);
  if (ics_every_ > 0 && step % ics_every_ == 0) record_ics(step, x, y);
}

void AnalysisObserver::record_activations(std::int64_t step) {
  // One row of a site, with the step it was taken at.
  struct Snapshot {
    std::int64_t step;
    const probes::ActivationSummary& a;
  };
  static const std::vector<ColumnGetter<Snapshot>> getters{
      {kStep, [](const Snapshot& s) { return one(double(s.step)); }},
      {kHist, [](const Snapshot& s) { return s.a.hist; }},
      {kUnderflow, [](const Snapshot& s) { return one(s.a.underflow); }},
      {kOverflow, [](const Snapshot& s) { return one(s.a.overflow); }},
      {kMean, [](const Snapshot& s) { return one(s.a.mean); }},
      {kStd, [](const Snapshot& s) { return one(s.a.std); }},
      {kQuantiles, [](const Snapshot& s) { return std::vector<double>(s.a.quantiles.begin(), s.a.quantiles.end()); }},
      {kZeroFraction, [](const Snapshot& s) { return one(s.a.zero_fraction); }},
  };
  const auto summaries = recorder_->record();
  const auto& sites = recorder_->sites();
  const std::int64_t bins = recorder_->bins();
  const auto cols = activation_columns(bins);
  const RowLayout<Snapshot> layout(cols, getters);
  if (act_groups_.empty()) {
    const auto& edges = schema::item(site_schema().path, kBinEdges);
    for (std::size_t i = 0; i < sites.size(); ++i) {
      const std::string g = activation_group(sites[i]);
      if (resuming_ && file_.exists(g)) {
        act_groups_.push_back(&file_.reopen_series(g, cols, kStep, resume_step_));
        continue;
      }
      auto& s = file_.add_series(g, cols);
      s.set_attr("module", sites[i].module);
      s.set_column_attr(kQuantiles, "levels", std::vector<std::string>{"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"});
      file_.write_array(at(g, kBinEdges), probes::bin_edges(recorder_->ranges()[i], bins), {}, edges.units,
                        edges.meaning);
      act_groups_.push_back(&s);
    }
  }
  for (std::size_t i = 0; i < summaries.size(); ++i) act_groups_[i]->append(layout.row(Snapshot{step, summaries[i]}));
}

void AnalysisObserver::record_ics(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) {
  const auto updated = trainer_.preview_update();
  // One /ics row: the shift measured at `step`.
  struct Shift {
    std::int64_t step;
    const probes::IcsRecord& r;
  };
  static const std::vector<ColumnGetter<Shift>> getters{
      {kStep, [](const Shift& s) { return one(double(s.step)); }},
      {kL2, [](const Shift& s) { return s.r.l2; }},
      {kCos, [](const Shift& s) { return s.r.cos; }},
  };
  const auto r = probes::internal_covariate_shift(trainer_.model(), ics_layers_, x, y, updated);
  ics_->append(RowLayout<Shift>(ics_->columns(), getters).row(Shift{step, r}));
}

}  // namespace bnl::record
