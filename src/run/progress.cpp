#include "bnlandscape/run/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace bnl::run {

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)), quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::on_start(std::int64_t total_steps) {
  total_ = total_steps;
  every_ = std::max<std::int64_t>(1, total_ / 20);
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void Progress::on_step(const train::StepRecord& r) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const std::int64_t done = r.step + 1;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  if (tty_) {
    if (done != total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    const int width = 30;
    const int fill = total_ > 0 ? static_cast<int>(width * done / total_) : 0;
    std::fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld loss %.4f  %.1f steps/s  %.0fs left ", label_.c_str(),
                 fill, "==============================", width - fill, "", static_cast<long long>(done),
                 static_cast<long long>(total_), r.loss, rate, eta);
    bar_open_ = true;
  } else if (done % every_ == 0 || done == total_) {
    std::fprintf(stderr, "%s: step %lld/%lld epoch %lld loss %.4f acc %.3f grad_norm %.3f %.1f steps/s %.0fs left\n",
                 label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<long long>(r.epoch), r.loss, r.acc, r.grad_norm, rate, eta);
  }
  std::fflush(stderr);
}

void Progress::on_epoch(const train::EpochRecord& r) {
  if (quiet_) return;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: epoch %lld done: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1fs",
                label_.c_str(), static_cast<long long>(r.epoch), r.train_loss, r.train_acc, r.test_loss,
                r.test_acc, r.wall_time);
  log(buf);
}

void Progress::log(const std::string& line) {
  if (quiet_) return;
  if (bar_open_) std::fputc('\n', stderr);
  bar_open_ = false;
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::done() {
  if (bar_open_ && !quiet_) std::fputc('\n', stderr);
  bar_open_ = false;
}

}  // namespace bnl::run
