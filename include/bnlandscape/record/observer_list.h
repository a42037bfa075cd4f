#pragma once
/// \file
/// Several training observers as one.

#include <cstdint>
#include <vector>

#include "bnlandscape/train/trainer.h"

namespace bnl::record {

/// Calls every observer in the order added (the order decides, e.g., that probes are measured
/// before the recorder flushes their step).
class ObserverList : public train::TrainObserver {
 public:
  /// Adds `o` (not owned) at the end.
  void add(train::TrainObserver* o) { list_.push_back(o); }
  void on_start(std::int64_t total) override { for (auto* o : list_) o->on_start(total); }
  void before_update(std::int64_t step, const torch::Tensor& x, const torch::Tensor& y) override {
    for (auto* o : list_) o->before_update(step, x, y);
  }
  void on_step(const train::StepRecord& r) override { for (auto* o : list_) o->on_step(r); }
  void on_eval(const train::EvalRecord& r) override { for (auto* o : list_) o->on_eval(r); }
  void on_epoch(const train::EpochRecord& r) override { for (auto* o : list_) o->on_epoch(r); }
  void on_flush_point(std::int64_t s) override { for (auto* o : list_) o->on_flush_point(s); }
  void on_checkpoint(std::int64_t s) override { for (auto* o : list_) o->on_checkpoint(s); }
  /// True when any observer asks to stop.
  bool stop_requested() override {
    for (auto* o : list_)
      if (o->stop_requested()) return true;
    return false;
  }

 private:
  std::vector<train::TrainObserver*> list_;
};

}  // namespace bnl::record
