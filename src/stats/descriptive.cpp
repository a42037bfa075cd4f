#include "bnlandscape/stats/descriptive.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bnl::stats {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

Pooled pool(const std::vector<double>& xs) {
  Pooled p;
  double sum = 0;
  for (double x : xs)
    if (std::isfinite(x)) {
      ++p.n;
      sum += x;
    }
  if (p.n == 0) {
    p.mean = p.sd = kNaN;
    return p;
  }
  p.mean = sum / static_cast<double>(p.n);
  if (p.n < 2) {
    p.sd = kNaN;
    return p;
  }
  double ss = 0;
  for (double x : xs)
    if (std::isfinite(x)) ss += (x - p.mean) * (x - p.mean);
  p.sd = std::sqrt(ss / static_cast<double>(p.n - 1));
  return p;
}

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double finite_mean(const double* v, std::size_t n) {
  double sum = 0;
  std::size_t used = 0;
  for (std::size_t j = 0; j < n; ++j)
    if (std::isfinite(v[j])) {
      sum += v[j];
      ++used;
    }
  return used ? sum / static_cast<double>(used) : kNaN;
}

}  // namespace bnl::stats
